"""Phase diagrams of Liu et al. 2022's toy (issue 20): measured from 121 full runs in one
batched model, predicted by the reduced dynamics, side by side; the same for teacher–student.

    python examples/liu2022_phase_study.py run      [--out out/liu2022] [--threads 1]
    python examples/liu2022_phase_study.py figures  [--out out/liu2022] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, resumed when it was interrupted; ``--device auto`` trains
on a GPU where there is one):

- ``liu2022.nc``: the (w, m) landscape of the ``liu2022`` preset (21 α × 11 m, 5 000 Adam
  steps per point; 11 min on one core here);
- ``liu2022_phase_runs.nc``: the paper's grid, decoder lr 10^linspace(−4, −2, 11) × γ ∈
  {0, 1, …, 10}, AdamW on both (representation lr 10⁻³), 10⁵ steps, 121 runs as one
  batched model from the default init and the runs' own random representation (α0 = 1,
  m0 = 1; 85 min on one core here);
- ``liu2022_sgd_runs.nc``: the same decoder rates with full-batch gradient descent (the
  ODE's own clock, SPEC §13) at γ = 0 and 1, 22 runs;
- ``teacher_student_phase_runs.nc``: teacher–student (a task where the predictions hold)
  over α0 ∈ linspace(1.25, 5, 8) × γ ∈ geomspace(0.03, 1, 8), 64 runs, 10⁵ steps.

``figures`` classifies the runs by SPEC §15's rule (T = 10⁵, τ = 10³), predicts each grid
from its landscape with the runs' own values, prints the agreement and the 4 × 4 confusion
tables, times a 10× finer predicted grid (101 × 101 paths), and draws
docs/figures/liu2022_phases.png; every number goes to docs/figures/liu2022_phases.txt.
Without ``run`` it reads the committed files (``landscapes/liu2022.nc``,
``landscapes/teacher_student.nc``, ``docs/data/*_phase_runs.nc``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _study import REPO, say, study_main

import reduced_dynamics as rd
from reduced_dynamics.cli.phases import comparison_table, phases_table
from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.phases import prediction_arguments
from reduced_dynamics.plot import new_figure
from reduced_dynamics.plot.phases import plot_phases

GRID = "--eta-d log:1e-4:1e-2:11"
COMMANDS = (  # (file, command) of every computation, in the order they run
    ("liu2022.nc", "probe toy-addition --preset liu2022 --alpha log:0.1:10:21 --m lin:0:1:11 "
                   "--seeds 1 --steps 5000 --schedule cosine --lr-scaling alpha"),
    ("liu2022_phase_runs.nc", f"train toy-addition --preset liu2022 {GRID} --gamma lin:0:10:11 "
                              "--device auto"),
    ("liu2022_sgd_runs.nc", f"train toy-addition --preset liu2022 --optimizer sgd {GRID} "
                            "--gamma 0,1 --device auto"),
    ("teacher_student_phase_runs.nc", "train teacher-student --alpha0 lin:1.25:5:8 "
                                      "--gamma log:0.03:1:8 --device auto"),
)
FINE = {"eta_d": 10 ** np.linspace(-4, -2, 101), "gamma": np.linspace(0, 10, 101)}


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    return [(out / name, f"{command} --threads {threads} -q") for name, command in COMMANDS]


def main() -> None:
    study_main(__doc__, commands, figures, "out/liu2022")


def locate(out: Path, name: str) -> Path:
    """``out/name``, else the committed copy (landscapes/ or docs/data/)."""
    for path in (out / name, REPO / "landscapes" / name, REPO / "docs" / "data" / name):
        if path.exists():
            return path
    raise SystemExit(f"{name} is neither in {out} nor committed: run the `run` step first")


def measured_and_predicted(landscape: Path, runs: Path, label: str, log: list[str]):
    """The runs' measured diagram, the landscape's prediction on the runs' grid and values,
    and their comparison, printed."""
    meas = rd.measured_phases(runs)
    pred = rd.predicted_phases(landscape, **prediction_arguments(meas))
    cmp = rd.compare_phases(pred, meas)
    tm = meas["t_test"].values
    tp = pred["t_test"].transpose(*meas["t_test"].dims).values
    with np.errstate(invalid="ignore"):
        slow = np.isfinite(tm) & np.isfinite(tp) & (tm >= float(meas.attrs["tau"]))
    ratio = tp[slow] / tm[slow]
    near = int((np.abs(np.log(ratio)) <= np.log(2.0)).sum())
    span = (f"{ratio.min():.2f}-{ratio.max():.2f}, {near} of {ratio.size} within 2x"
            if ratio.size else "no cell")
    say([f"\n== {label}: measured ({runs.name})", phases_table(meas),
         f"\n== {label}: predicted ({landscape.name}, the runs' values)", phases_table(pred),
         f"\n== {label}: predicted against measured", comparison_table(cmp),
         f"t_test predicted / measured where both are within T and measured >= tau: {span}"],
        log)
    return meas, pred, cmp


def figures(out: Path, folder: Path) -> None:
    """Measured and predicted diagrams of liu2022 (AdamW and gradient descent) and of
    teacher–student; the fine predicted grid, timed."""
    log: list[str] = []
    liu = locate(out, "liu2022.nc")
    meas, pred, cmp = measured_and_predicted(liu, locate(out, "liu2022_phase_runs.nc"),
                                             "liu2022, AdamW", log)
    args = prediction_arguments(meas)
    rd.predicted_phases(liu, **{**args, "grid": FINE})  # compiled before it is timed
    start = time.perf_counter()
    fine = rd.predicted_phases(liu, **{**args, "grid": FINE})
    seconds = time.perf_counter() - start
    say([f"\n== liu2022: predicted on the 10x finer grid (101 x 101 = {fine['phase'].size} "
         f"paths, {seconds:.2f} s once compiled)", phases_table(fine)], log)
    # the ODE's eta_R for gradient-descent runs: the run's eta_R / ||Delta||^2 (SPEC §13)
    sgd_meas, sgd_pred, _ = measured_and_predicted(
        liu, locate(out, "liu2022_sgd_runs.nc"), "liu2022, gradient descent", log)
    moved = rd.predicted_phases(liu, **{**args, "eta_r": float(sgd_pred.attrs["eta_r"])})
    changed = int((moved["phase"].values != pred["phase"].values).sum())
    say([f"\nAdamW grid predicted with gradient descent's eta_R = "
         f"{float(sgd_pred.attrs['eta_r']):.4g} instead of {float(pred.attrs['eta_r']):.4g}: "
         f"{changed} of {pred['phase'].size} cells change phase"], log)
    ts_meas, ts_pred, ts_cmp = measured_and_predicted(
        locate(out, "teacher_student.nc"), locate(out, "teacher_student_phase_runs.nc"),
        "teacher-student", log)
    fig = new_figure(20.0, 8.4)
    axes = fig.subplots(2, 3)
    panels = [(meas, "liu2022, AdamW: measured (121 runs)"),
              (pred, f"predicted; agreement {float(cmp['agreement']):.0%}"),
              (fine, f"predicted, 101 x 101 ({seconds:.2f} s)"),
              (sgd_meas, "liu2022, gradient descent: measured"),
              (ts_meas, "teacher-student: measured (64 runs)"),
              (ts_pred, f"predicted; agreement {float(ts_cmp['agreement']):.0%}")]
    for ax, (ds, title) in zip(axes.ravel(), panels):
        plot_phases(ds, ax=ax)
        ax.set_title(title, fontsize=9)
    write_figure(fig, folder / "liu2022_phases.png")
    write_text("\n".join(log) + "\n", folder / "liu2022_phases.txt")
    print(f"wrote {folder / 'liu2022_phases'}.png and .txt")


if __name__ == "__main__":
    main()
