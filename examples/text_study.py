"""Section 4, Fig. 4 of Omnigrok on real IMDb reviews (issue 21), on one CPU core.

    python examples/text_study.py run      [--out out/text] [--threads 1]
    python examples/text_study.py figures  [--out out/text] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, and resumable with ``--resume`` when interrupted):

- ``landscapes/text_imdb_cpu.nc`` (shipped; delete it to recompute): the (w, N) landscape
  of the ``imdb-cpu`` preset (Fig. 4a-c);
- ``text_runs.nc``: alpha0 = 1 and 6 x gamma = 0 and 1 x N = 200 and 1 000 (Fig. 4d);
- ``text_gamma.nc``: alpha0 = 6, N = 1 000, five gamma in [0.5, 5] (t vs gamma);
- ``text_runs_seed1.nc``: the N = 200 runs of ``text_runs.nc`` from init seed 1;
- ``validate_runs/``, ``validate_gamma/``: the 1-D reduced dynamics at the runs' N against
  the runs.

``figures`` draws docs/figures/text_*.png from them and prints every number the README
quotes (also in docs/figures/text_numbers.txt). ``--out docs/data`` redraws them from the
committed run files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import REPO, curves, delay_line, exponent_lines, find, report, say, study_main

from reduced_dynamics.engine.parameters import critical_n_train, select_n_train
from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure
from reduced_dynamics.plot.landscape import plot_n_train

LANDSCAPE_NAME = "text_imdb_cpu.nc"
LANDSCAPE = ("--alpha log:0.1:10:9 --n-train 100,200,500,1000,3000 --steps 1500 "
             "--batch-size 50")
GAMMAS = "0.5,0.89,1.58,2.81,5"


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    t = f"--threads {threads} -q"
    land = REPO / "landscapes" / LANDSCAPE_NAME
    return [
        (land, f"probe text --preset imdb-cpu {LANDSCAPE} {t}"),
        (out / "text_runs.nc", "train text --preset imdb-cpu --alpha0 1,6 --gamma 0,1 "
         f"--n-train 200,1000 --steps 4000 --n-log 80 {t}"),
        (out / "text_gamma.nc", f"train text --preset imdb-cpu --alpha0 6 --gamma {GAMMAS} "
         f"--n-train 1000 --steps 6000 --n-log 100 {t}"),
        (out / "text_runs_seed1.nc", "train text --preset imdb-cpu --alpha0 1,6 --gamma 0,1 "
         f"--n-train 200 --seeds 1, --steps 4000 --n-log 80 {t}"),  # the list (1,), not a count
        (out / "validate_runs", f"validate {land} {out / 'text_runs.nc'}"),
        (out / "validate_gamma", f"validate {land} {out / 'text_gamma.nc'}"),
    ]


def main() -> None:
    study_main(__doc__, commands, figures, "out/text")


def landscape_numbers(land) -> list[str]:
    """The train and test losses and accuracies over alpha at each N."""
    lines = []
    for n in land["n_train"].values:
        s = select_n_train(land, int(n))
        a = s["alpha"].values
        lines.append(f"N = {int(n)} (alpha " + " ".join(f"{v:.2g}" for v in a) + ")")
        for name in ("train_loss", "test_loss", "train_acc", "test_acc"):
            lines.append(f"    {name:10s} " + " ".join(f"{v:.3g}" for v in s[name].values))
        k = int(np.nanargmin(s["test_loss"].values))
        lines.append(f"    test loss minimum {s['test_loss'].values[k]:.3g} at alpha {a[k]:.2f}; "
                     f"converged {int(s['converged'].values.sum())} of {a.size}")
    return lines


def validation_lines(rep, label: str) -> list[str]:
    """Predicted vs measured t_grok per run, from a `validate` report."""
    lines = [f"{label}: predicted (1-D reduced dynamics at the run's N) vs measured t_grok"]
    for r in range(rep.sizes["run"]):
        x = rep.isel(run=r)
        lines.append(f"  gamma {float(x['gamma']):5.3g} N {int(x['n_train']):5d} alpha0 "
                     f"{float(x['alpha0']):4g}: measured {float(x['t_grok_measured']):7.0f} "
                     f"predicted {float(x['t_grok_predicted']):7.0f} ratio "
                     f"{float(x['t_grok_ratio']):5.2f}")
    lines.append("  norm decay rate (fitted between fitting and generalising) / eta_d gamma: "
                 + " ".join(f"{r:.3g}/{e:.3g}" for r, e in zip(
                     rep["plateau_rate"].values, rep["eta_d_gamma"].values)))
    a = rep.attrs
    if np.isfinite(a.get("exponent_measured", np.nan)):
        lines.append(f"  exponent measured {a['exponent_measured']:.2f} ± "
                     f"{a['exponent_measured_stderr']:.2f}, predicted "
                     f"{a['exponent_predicted']:.2f} ± {a['exponent_predicted_stderr']:.2f}")
    return lines


def figures(out: Path, folder: Path) -> None:
    """Every figure of the section and the numbers the README quotes."""
    log: list[str] = []
    land = open_landscape(find(out, LANDSCAPE_NAME))
    write_figure(plot_n_train(land), folder / "text_landscape.png")
    crit = critical_n_train(land)
    say(landscape_numbers(land) + [crit.describe()] + [
        f"  N = {n}: best reduced test acc {b:.3f} at alpha {a:.2f}"
        for n, b, a in zip(crit.n_values, crit.best, crit.best_alpha)], log)
    runs = open_trajectories(find(out, "text_runs.nc"))
    w0 = float(runs.attrs["w0"])
    fig = new_figure(11, 4.2)
    axes = fig.subplots(1, 2)
    for ax, (a0, g) in zip(axes, ((6.0, 1.0), (1.0, 0.0))):
        k = np.flatnonzero((runs["alpha0"].values == a0) & (runs["gamma"].values == g)
                           & (runs["n_train"].values == 200))
        curves(ax, runs.isel(run=int(k[0])), w0, f"IMDb, N = 200, alpha0 = {a0:g}, "
               f"gamma {g:g}")
    write_figure(fig, folder / "text_runs.png")
    lines = [f"runs (the test threshold is the task's grok_threshold {threshold(runs):g}):"]
    for r in range(runs.sizes["run"]):
        x = runs.isel(run=r)
        lines.append(delay_line(x, f"  N {int(x['n_train']):5d} alpha0 {float(x['alpha0']):g} "
                                   f"gamma {float(x['gamma']):g}")
                     + f"; best test acc {float(x['test_acc'].max()):.3f}")
    reached = sorted({int(n) for n, t in zip(runs["n_train"].values, runs["t_grok"].values)
                      if np.isfinite(t)})
    sizes = sorted(set(runs["n_train"].values.tolist()))
    lines.append(f"runs' N_c: smallest N of the runs reaching the threshold: "
                 f"{reached[0] if reached else 'none'} (of {sizes})")
    say(lines, log)
    say(validation_lines(report(out, LANDSCAPE_NAME, "text_runs.nc"), "runs"), log)
    seed1 = open_trajectories(find(out, "text_runs_seed1.nc"))
    say([delay_line(seed1.isel(run=r), f"  seed 1, N 200 alpha0 {float(seed1['alpha0'][r]):g} "
                    f"gamma {float(seed1['gamma'][r]):g}")
         + f"; best test acc {float(seed1['test_acc'][r].max()):.3f}"
         for r in range(seed1.sizes["run"])], log)
    gamma = open_trajectories(find(out, "text_gamma.nc"))
    g, t, seed = gamma["gamma"].values, gamma["t_grok"].values, gamma["seed"].values
    say([delay_line(gamma.isel(run=r), f"  gamma {g[r]:.3g}") for r in range(g.size)]
        + exponent_lines(g, t, seed, [(g.min(), g.max())]), log)
    rep = report(out, LANDSCAPE_NAME, "text_gamma.nc")
    say(validation_lines(rep, "gamma sweep"), log)
    fig = new_figure(6, 4.4)
    ax = fig.subplots()
    ax.loglog(g, t, "o", label="measured")
    order = np.argsort(rep["gamma"].values)
    ax.loglog(rep["gamma"].values[order], rep["t_grok_predicted"].values[order], "-",
              label="predicted (1-D reduced dynamics)")
    ax.set_xlabel("weight decay gamma")
    ax.set_ylabel(f"steps to test acc {threshold(gamma):g}")
    ax.set_title("IMDb (imdb-cpu), alpha0 = 6, N = 1000", fontsize=10)
    ax.legend(fontsize=8)
    write_figure(fig, folder / "text_gamma.png")
    write_text("\n".join(log) + "\n", folder / "text_numbers.txt")
    print(f"wrote the figures and text_numbers.txt into {folder}")


def threshold(ds) -> float:
    from reduced_dynamics.engine.thresholds import grok_threshold_of

    return grok_threshold_of(ds)[0]


if __name__ == "__main__":
    main()
