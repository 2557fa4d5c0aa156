"""Fig. 10a of Omnigrok on the CPU preset: time to generalise against weight decay over two
decades of gamma, one batched model, two seeds; fitted exponents per seed; predictions from
the Fig. 9 landscape started at each run's peak norm.

    python examples/modular_addition_fig10a.py run      [--out out/modular]
    python examples/modular_addition_fig10a.py figures  [--out out/modular] [-o docs/figures]

``run`` needs ``modular_cpu_fractions.nc``, the landscape the predictions come from (made by
`examples/modular_addition_fig9.py run`, shipped in landscapes/), and makes:

- ``modular_gamma_runs.nc``: `train modular-addition --preset cpu-fractions` at fraction 0.8
  (N = 769), gamma 0.1 … 10 (5 values), seeds 0 and 1, one batched model;
- ``validate_gamma/``: `validate --start peak` against the landscape's N = 769 slice.

``figures`` writes docs/figures/modular_addition_fig10a.png and prints every number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import exponent_lines, find, save, say, study_main
from _study import report as report_of

from reduced_dynamics.engine.thresholds import first_crossing
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure

N_TRAIN = 769  # fraction 0.8 of the 961 pairs
GAMMAS = "0.1,0.3,1,3,10"
LOSS_THRESHOLD = 0.1  # the test loss of "generalised" in the original runs (SPEC §10)


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in order."""
    return [
        (out / "modular_gamma_runs.nc", f"train modular-addition --preset cpu-fractions --gamma "
         f"{GAMMAS} --n-train {N_TRAIN} --seeds 2 --steps 9000 --n-log 200 "
         f"--threads {threads} -q"),
        (out / "validate_gamma", f"validate {find(out, 'modular_cpu_fractions.nc')} "
         f"{out / 'modular_gamma_runs.nc'} --start peak"),
    ]


def figures(out: Path, folder: Path) -> None:
    log: list[str] = []
    runs = open_trajectories(find(out, "modular_gamma_runs.nc"))
    report = report_of(out, "modular_cpu_fractions.nc", "modular_gamma_runs.nc",
                       start="peak")
    g, seed, step = runs["gamma"].values, runs["seed"].values, runs["step"].values
    t = runs["t_grok"].values
    t_loss = first_crossing(step, runs["test_loss"].values, LOSS_THRESHOLD, below=True)
    w = runs["w"].values / float(runs.attrs["w0"])
    lines = [f"gamma sweep at fraction {N_TRAIN / 961:.2f} (N {N_TRAIN}), "
             f"{int(step[-1])} steps:"]
    for r in range(runs.sizes["run"]):
        k = int(np.nanargmax(w[r]))
        x = report.isel(run=r)
        lines.append(f"  gamma {g[r]:5g} seed {seed[r]}: 95 % train {runs['t_overfit'][r]:.0f}"
                     f", 95 % test {t[r]:.0f}, test loss < {LOSS_THRESHOLD:g} at "
                     f"{t_loss[r]:.0f}; w/w0 peak {w[r, k]:.2f} (step {int(step[k])}), end "
                     f"{w[r, -1]:.2f}; predicted {float(x['t_grok_predicted']):.0f} "
                     f"(ratio {float(x['t_grok_ratio']):.2f})")
    lines += exponent_lines(g, t, seed, [(0.1, 10), (0.1, 1), (0.3, 3), (1, 10)])
    a = report.attrs
    lines.append(f"predicted exponent (all runs, from the peak): {a['exponent_predicted']:.2f}"
                 f" ± {a['exponent_predicted_stderr']:.2f}; measured over the same runs "
                 f"{a['exponent_measured']:.2f} ± {a['exponent_measured_stderr']:.2f}")
    say(lines, log)

    fig = new_figure(11, 4.2)
    ax = fig.subplots(1, 2)
    for s in np.unique(seed):
        k = seed == s
        ax[0].loglog(g[k], t[k], "o", label=f"measured, seed {s}")
        order = np.argsort(g[k])
        ax[0].loglog(g[k][order], report["t_grok_predicted"].values[k][order], "-",
                     label=f"predicted from the peak, seed {s}")
    x = np.geomspace(g.min(), g.max())
    ax[0].loglog(x, t[np.isfinite(t)].max() * (x / x.min()) ** -1.0, "k:", lw=0.8,
                 label="slope -1")
    ax[0].set_xlabel("weight decay gamma")
    ax[0].set_ylabel("steps to 95 % test accuracy")
    ax[0].set_title(f"Fig. 10a, CPU preset (p 31, fraction {N_TRAIN / 961:.2f})", fontsize=10)
    ax[0].legend(fontsize=7)
    for r in np.flatnonzero(seed == seed.min()):
        ax[1].loglog(step[1:], w[r, 1:], label=f"gamma {g[r]:g}")
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("w / w0")
    ax[1].set_title("weight norm, seed 0", fontsize=10)
    ax[1].legend(fontsize=7)
    save(fig, log, folder, "modular_addition_fig10a")


def main() -> None:
    study_main(__doc__, commands, figures, "out/modular")


if __name__ == "__main__":
    main()
