"""Fig. 9 of Omnigrok on the CPU preset: the reduced landscape over alpha × training
fraction, its critical fraction, and a fraction sweep of full runs predicted from it.

    python examples/modular_addition_fig9.py run      [--out out/modular]
    python examples/modular_addition_fig9.py figures  [--out out/modular] [-o docs/figures]

``run`` makes (each command printed; skipped when its output exists, resumed when
interrupted):

- ``modular_cpu_fractions.nc``: `probe modular-addition --preset cpu-fractions`, 6 alpha in [0.2, 4]
  × 8 training sizes (fractions 0.2 … 0.9 of the 961 pairs of p = 31; the test set is the
  other 10 %), constrained Adam lr 1e-3 (SPEC §10);
- ``modular_fraction_runs.nc``: one batched model of AdamW runs (gamma 1) at six fractions
  0.3 … 0.8;
- ``validate_fractions/``: each run predicted by the 1-D reduced dynamics at its N,
  started from its measured peak norm (`validate --start peak`).

``figures`` writes docs/figures/modular_addition_fig9.png and prints the numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import delay_line, find, save, say, study_main
from _study import report as report_of

from reduced_dynamics.engine.parameters import critical_n_train
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure
from reduced_dynamics.plot.landscape import plot_n_train

PAIRS = 31 ** 2  # the cpu presets' p = 31
RUN_SIZES = "288,384,481,577,673,769"  # fractions 0.3 .. 0.8 of the pairs
PROBE_SIZES = "192," + RUN_SIZES + ",865"


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in order."""
    t = f"--threads {threads} -q"
    return [
        (out / "modular_cpu_fractions.nc", "probe modular-addition --preset cpu-fractions "
         f"--alpha log:0.2:4:6 --n-train {PROBE_SIZES} --steps 2000 {t}"),
        (out / "modular_fraction_runs.nc", "train modular-addition --preset cpu-fractions "
         f"--gamma 1 --n-train {RUN_SIZES} --seeds 1 --steps 15000 --n-log 150 {t}"),
        (out / "validate_fractions", f"validate {out / 'modular_cpu_fractions.nc'} "
         f"{out / 'modular_fraction_runs.nc'} --start peak"),
    ]


def figures(out: Path, folder: Path) -> None:
    """The landscape, t_grok vs fraction, and the critical fraction both ways."""
    log: list[str] = []
    land = open_landscape(find(out, "modular_cpu_fractions.nc"))
    runs = open_trajectories(find(out, "modular_fraction_runs.nc"))
    report = report_of(out, "modular_cpu_fractions.nc", "modular_fraction_runs.nc",
                       start="peak")
    crit = critical_n_train(land)
    frac = runs["n_train"].values / PAIRS
    t = runs["t_grok"].values
    grokked = np.isfinite(t)
    run_crit = float(frac[grokked].min()) if grokked.any() else None
    lines = [crit.describe()]
    lines += [f"  fraction {n / PAIRS:.2f} (N {n}): best reduced test acc {b:.3f} at alpha "
              f"{a:.2f}" for n, b, a in zip(crit.n_values, crit.best, crit.best_alpha)]
    lines.append("critical fraction: landscape "
                 + ("none on the grid" if crit.n_train is None
                    else f"{crit.n_train / PAIRS:.2f} (N {crit.n_train})")
                 + ", runs " + ("none grokked" if run_crit is None else
                                f"{run_crit:.2f} (smallest fraction whose run reached 95 % "
                                f"test accuracy within {int(runs['step'].values[-1])} steps)"))
    for r in range(runs.sizes["run"]):
        x = runs.isel(run=r)
        w = x["w"].values / float(runs.attrs["w0"])
        k = int(np.nanargmax(w))
        lines.append(delay_line(x, f"  fraction {frac[r]:.2f}") + f"; w/w0 peaks at "
                     f"{w[k]:.2f} (step {int(runs['step'].values[k])}), ends at {w[-1]:.2f}")
    for r in range(report.sizes["run"]):
        x = report.isel(run=r)
        lines.append(f"  fraction {frac[r]:.2f}: predicted from the peak "
                     f"(step {float(x['t_start']):.0f}, alpha {float(x['alpha_start']):.2f}) "
                     f"{float(x['t_grok_predicted']):.0f}, measured "
                     f"{float(x['t_grok_measured']):.0f}, ratio {float(x['t_grok_ratio']):.2f}")
    say(lines, log)

    fig = new_figure(15.5, 8.4)
    top, bottom = fig.subfigures(2, 1)
    plot_n_train(land, fig=top)
    ax = bottom.subplots(1, 2)
    ax[0].semilogy(frac, t, "o", label="measured (gamma 1)")
    ax[0].semilogy(frac, report["t_grok_predicted"].values, "-",
                   label="predicted from each run's peak norm")
    if crit.n_train is not None:
        ax[0].axvline(crit.n_train / PAIRS, color="red", ls="--",
                      label=f"landscape critical fraction {crit.n_train / PAIRS:.2f}")
    ax[0].set_xlabel("training fraction")
    ax[0].set_ylabel("steps to 95 % test accuracy")
    ax[0].legend(fontsize=8)
    for r in range(runs.sizes["run"]):
        x = runs.isel(run=r)
        ax[1].semilogx(runs["step"].values[1:], x["test_acc"].values[1:],
                       label=f"fraction {frac[r]:.2f}")
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("test accuracy")
    ax[1].legend(fontsize=8)
    save(fig, log, folder, "modular_addition_fig9")


def main() -> None:
    study_main(__doc__, commands, figures, "out/modular")


if __name__ == "__main__":
    main()
