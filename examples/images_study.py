"""Section 4 / Appendix C of Omnigrok on real images (issue 11), on a laptop CPU.

    python examples/images_study.py run      [--out out/images] [--threads 1]
    python examples/images_study.py figures  [--out out/images] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, and resumable with ``--resume`` when interrupted):

- ``digits_mse.nc``: the (w, N) landscape of digits with MSE (Fig. 3a,b);
- ``digits_rep.nc``: the (w, m) landscape at full N, inputs on R(m) (Fig. 8);
- ``digits_gamma.nc``: alpha0 = 8, N = 300, eight gamma in [0.05, 1], two seeds (Fig. 10b);
- ``digits_sizes.nc``: alpha0 = 1 and 8, gamma = 0.1, seven N in [100, 1500] (Fig. 3d,e);
- ``digits_ce.nc``: cross-entropy, alpha0 = 1 and 100, gamma 0.3, N = 200 (Fig. 12);
- ``fashion_runs.nc``: Fashion-MNIST, alpha0 = 1 and 8, gamma 0.1, N = 775 and 2 298 (two
  sizes of the shipped landscape's grid);
- ``validate_gamma/``, ``validate_sizes/``: predictions against the runs.

``figures`` draws docs/figures/images_*.png from them and prints every number the README
quotes. About 40 minutes on one core of a 2-core laptop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import curves, delay_line, exponent_lines, find, report, say, study_main
from matplotlib.ticker import NullLocator

from reduced_dynamics.engine.parameters import critical_n_train, select_n_train
from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure
from reduced_dynamics.plot.landscape import plot_n_train

LANDSCAPE = ("--alpha log:0.3:30:11 --n-train 30,50,100,150,200,300,500,1000,1500 "
             "--steps 3000 --batch-size 100 --lr-scaling alpha --schedule cosine")
SIZES = "100,150,200,300,500,1000,1500"
GAMMAS = "0.05,0.075,0.1,0.15,0.22,0.33,0.5,1"


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    t = f"--threads {threads} -q"
    return [
        (out / "digits_mse.nc", f"probe images --preset digits-mse {LANDSCAPE} {t}"),
        (out / "digits_gamma.nc", f"train images --preset digits-mse --alpha0 8 --gamma {GAMMAS} "
         f"--n-train 300 --seeds 2 --steps 40000 --n-log 400 {t}"),
        (out / "digits_sizes.nc", f"train images --preset digits-mse --alpha0 1,8 --gamma 0.1 "
         f"--n-train {SIZES} --seeds 1 --steps 30000 --n-log 300 {t}"),
        (out / "digits_ce.nc", "train images --preset digits-ce --alpha0 1,100 --gamma 0.3 "
         f"--n-train 200 --seeds 1 --steps 20000 --n-log 200 {t}"),
        (out / "fashion_runs.nc", "train images --preset fashion-mse --alpha0 1,8 --gamma 0.1 "
         f"--n-train 775,2298 --seeds 1 --steps 25000 --n-log 150 {t}"),
        (out / "digits_rep.nc", "probe images --preset digits-rep --alpha log:0.3:30:11 "
         f"--m lin:0:1:6 --steps 3000 --batch-size 100 --lr-scaling alpha "
         f"--schedule cosine {t}"),
        (out / "validate_gamma", f"validate {out / 'digits_mse.nc'} {out / 'digits_gamma.nc'}"),
        (out / "validate_sizes", f"validate {out / 'digits_mse.nc'} {out / 'digits_sizes.nc'}"),
    ]


def main() -> None:
    study_main(__doc__, commands, figures, "out/images")


def figures(out: Path, folder: Path) -> None:
    """Every figure of the section and the numbers the README quotes (also in numbers.txt)."""
    log: list[str] = []
    land = open_landscape(find(out, "digits_mse.nc"))
    write_figure(plot_n_train(land), folder / "images_digits_landscape.png")
    crit = critical_n_train(land)
    say(landscape_numbers(land) + [crit.describe()] + [
        f"  N = {n}: best reduced test acc {b:.3f} at alpha {a:.2f}"
        for n, b, a in zip(crit.n_values, crit.best, crit.best_alpha)], log)
    sizes = open_trajectories(find(out, "digits_sizes.nc"))
    sizes_report = report(out, "digits_mse.nc", "digits_sizes.nc")
    gamma = open_trajectories(find(out, "digits_gamma.nc"))
    gamma_report = report(out, "digits_mse.nc", "digits_gamma.nc")
    ce = open_trajectories(find(out, "digits_ce.nc"))
    fig = new_figure(15.5, 4.2)
    axes = fig.subplots(1, 4)
    w0 = float(sizes.attrs["w0"])
    for ax, a0 in zip(axes[:2], (1.0, 8.0)):
        k = np.flatnonzero((sizes["alpha0"].values == a0) & (sizes["n_train"].values == 300))
        curves(ax, sizes.isel(run=int(k[0])), w0, f"MSE, N = 300, alpha0 = {a0:g}, "
               "gamma 0.1")
    for a0 in (1.0, 100.0):
        k = int(np.flatnonzero(ce["alpha0"].values == a0)[0])
        axes[2].plot(ce["step"].values[1:], ce["test_acc"].values[k, 1:],
                     label=f"test, alpha0 {a0:g}")
        axes[2].plot(ce["step"].values[1:], ce["train_acc"].values[k, 1:], ":",
                     label=f"train, alpha0 {a0:g}")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("step")
    axes[2].set_title("Fig. 12: cross-entropy, N = 200", fontsize=10)
    axes[2].legend(fontsize=8)
    t_vs_n(axes[3], sizes_report, crit.n_train)
    write_figure(fig, folder / "images_runs.png")
    lines = ["runs (gamma 0.1; the test threshold is the task's grok_threshold "
             f"{threshold(sizes):g}):"]
    for r in range(sizes.sizes["run"]):
        x = sizes.isel(run=r)
        lines.append(delay_line(x, f"  N {int(x['n_train']):5d} alpha0 {float(x['alpha0']):g}"))
    for r in range(ce.sizes["run"]):
        x = ce.isel(run=r)
        lines.append(delay_line(x, f"  CE, N 200, gamma {float(x['gamma']):g}, alpha0 "
                                   f"{float(x['alpha0']):g}"))
    say(lines, log)
    say(validation_lines(sizes_report, "N sweep"), log)
    fashion = open_trajectories(find(out, "fashion_runs.nc"))
    say([delay_line(fashion.isel(run=r), f"  Fashion-MNIST, N {int(fashion['n_train'][r])}, "
                    f"alpha0 {float(fashion['alpha0'][r]):g}")
         for r in range(fashion.sizes["run"])]
        + validation_lines(report(out, "fashion_mse.nc", "fashion_runs.nc"), "Fashion-MNIST"),
        log)
    fig = new_figure(6, 4.4)
    t_vs_gamma(fig.subplots(), gamma, gamma_report)
    write_figure(fig, folder / "images_gamma.png")
    g, t, seed = gamma["gamma"].values, gamma["t_grok"].values, gamma["seed"].values
    say(exponent_lines(g, t, seed, [(0.05, 0.5), (0.1, 1.0), (0.05, 1.0)]), log)
    say(validation_lines(gamma_report, "gamma sweep"), log)
    rep = open_landscape(find(out, "digits_rep.nc"))
    toy = open_landscape(find(out, "toy_addition_paper.nc"))
    fig = new_figure(11, 4)
    say(representation(fig.subplots(1, 2), rep, toy), log)
    write_figure(fig, folder / "images_representation.png")
    write_text("\n".join(log) + "\n", folder / "images_numbers.txt")
    print(f"wrote the figures and images_numbers.txt into {folder}")


def threshold(ds) -> float:
    from reduced_dynamics.engine.thresholds import grok_threshold_of

    return grok_threshold_of(ds)[0]


def landscape_numbers(land) -> list[str]:
    """The L (train) and U (test) over alpha at the smallest N, and the largest N."""
    lines = []
    for n in (int(land["n_train"].values[0]), int(land["n_train"].values[-1])):
        s = select_n_train(land, n)
        a = s["alpha"].values
        tr, te = s["train_loss"].values, s["test_loss"].values
        k = int(np.nanargmin(te))
        lines.append(f"N = {n}: train loss " + " ".join(f"{v:.2g}" for v in tr)
                     + f" over alpha {a[0]:.2g}..{a[-1]:.2g}")
        lines.append("        test loss  " + " ".join(f"{v:.2g}" for v in te)
                     + f"; minimum {te[k]:.3g} at alpha {a[k]:.2f}")
    return lines


def validation_lines(rep, label: str) -> list[str]:
    """Predicted vs measured t_grok per run, from a `validate` report."""
    lines = [f"{label}: predicted (1-D reduced dynamics at the run's N) vs measured t_grok"]
    for r in range(rep.sizes["run"]):
        x = rep.isel(run=r)
        lines.append(f"  gamma {float(x['gamma']):5.3g} seed {int(x['seed'])} N "
                     f"{int(x['n_train']):5d} alpha0 {float(x['alpha0']):4g}: measured "
                     f"{float(x['t_grok_measured']):7.0f} predicted "
                     f"{float(x['t_grok_predicted']):7.0f} ratio "
                     f"{float(x['t_grok_ratio']):5.2f}")
    a = rep.attrs
    if np.isfinite(a["exponent_measured"]):  # a sweep over gamma
        lines.append(f"  exponent measured {a['exponent_measured']:.2f} ± "
                     f"{a['exponent_measured_stderr']:.2f}, predicted "
                     f"{a['exponent_predicted']:.2f} ± {a['exponent_predicted_stderr']:.2f} "
                     "(all runs of the file)")
    return lines


def t_vs_n(ax, rep, n_c: int | None) -> None:
    """Fig. 3e: measured (points) and predicted (line) t_grok against N."""
    for a0, mark in ((8.0, "o"), (1.0, "s")):
        k = rep["alpha0"].values == a0
        n = rep["n_train"].values[k]
        ax.loglog(n, rep["t_grok_measured"].values[k], mark, label=f"measured, alpha0 {a0:g}")
        if a0 != 1.0:  # from alpha0 = 1 the prediction is 0 (generalised at once)
            ax.loglog(n, rep["t_grok_predicted"].values[k], "-",
                      label=f"predicted, alpha0 {a0:g}")
    n_all = np.unique(rep["n_train"].values)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(n_all, labels=[str(v) for v in n_all])
    if n_c is not None:
        ax.axvline(n_c, color="red", ls="--", label=f"landscape N_c = {n_c}")
    ax.set_xlabel("training-set size N")
    ax.set_ylabel("steps to the test threshold")
    ax.set_title("Fig. 3e: time to generalise vs N", fontsize=10)
    ax.legend(fontsize=7)


def t_vs_gamma(ax, runs, rep) -> None:
    """Fig. 10b: t_grok against gamma per seed, fits over [0.05, 0.5] and the paper's
    [0.1, 1], the prediction."""
    from reduced_dynamics.engine.fits import fit_exponent

    g, t, seed = runs["gamma"].values, runs["t_grok"].values, runs["seed"].values
    for s in np.unique(seed):
        k = seed == s
        ax.loglog(g[k], t[k], "o", label=f"measured, seed {s}")
    for lo, hi, style in ((0.05, 0.5, "k:"), (0.1, 1.0, "k--")):
        keep = (g >= lo) & (g <= hi)
        fit = fit_exponent(g[keep], t[keep])
        x = np.geomspace(lo, hi)
        ax.loglog(x, np.exp(fit["intercept"]) * x ** fit["exponent"], style, lw=0.8,
                  label=f"fit {lo:g}..{hi:g}: p = {fit['exponent']:.2f} ± "
                        f"{fit['exponent_stderr']:.2f}")
    order = np.argsort(rep["gamma"].values)
    ax.loglog(rep["gamma"].values[order], rep["t_grok_predicted"].values[order], "-",
              color="C3", label=f"predicted: p = {rep.attrs['exponent_predicted']:.2f}")
    ax.set_xlabel("weight decay gamma")
    ax.set_ylabel(f"steps to test acc {threshold(runs):g}")
    ax.set_title("Fig. 10b: digits, alpha0 = 8, N = 300", fontsize=10)
    ax.legend(fontsize=8)


def representation(axes, rep, toy) -> list[str]:
    """Fig. 8: reduced test accuracy over alpha for several m, digits next to the toy."""
    lines = []
    for ax, land, name in ((axes[0], rep, "digits (MLP, full N)"),
                           (axes[1], toy, "toy addition")):
        m_values = land["m"].values
        picks = np.unique(np.round(np.linspace(0, len(m_values) - 1, 5)).astype(int))
        for i in picks:
            s = land.isel(m=i)
            ax.semilogx(s["alpha"].values, s["test_acc"].values, label=f"m = {m_values[i]:.2g}")
        ax.set_xlabel("alpha = w / w0")
        ax.set_ylabel("reduced test accuracy")
        ax.set_title(f"Fig. 8: {name}", fontsize=10)
        ax.legend(fontsize=8)
        acc = land["test_acc"].transpose("w", "m").values
        best = np.nanmax(acc, axis=0)  # best over w, per m
        lines.append(f"{name}: best reduced test acc over alpha, per m "
                     + " ".join(f"{m:.2g}:{b:.3f}" for m, b in zip(m_values, best))
                     + f" (spread {np.nanmax(best) - np.nanmin(best):.3f})")
        tr = land["train_loss"].transpose("w", "m").values
        lines.append(f"    train loss at the largest alpha over m: {np.nanmin(tr[-1]):.2g} .. "
                     f"{np.nanmax(tr[-1]):.2g}")
    return lines


if __name__ == "__main__":
    main()
