"""Molecules (Omnigrok Section 4, Fig. 5; issue 22): a graph network on QM9 polarizability,
on one CPU core, with the `qm9-cpu` preset.

    python examples/molecules_study.py run      [--out out/molecules] [--threads 1]
    python examples/molecules_study.py figures  [--out out/molecules] [-o docs/figures]

``run`` makes every file with the `reduced-dynamics` commands printed as it goes (each is
skipped when its output exists, and resumed when interrupted):

- ``molecules_cpu.nc``: the (w, N) landscape (Fig. 5a-c), shipped in ``landscapes/``;
- ``molecules_gamma0.nc``: alpha0 = 1 and 3, N = 200, no weight decay, 10^5 steps (Fig. 5d);
- ``molecules_gamma.nc``: alpha0 = 3, N = 200, gamma 0.1 and 0.3 (AdamW), 3·10^4 steps;
- ``molecules_sizes.nc``: alpha0 = 1, gamma = 0, six N from 10 to 2 000, 6 000 steps (N_c
  from runs: the smallest N whose test loss reaches the threshold);
- ``molecules_probe_long.nc``: the probe at alpha 1.78 and 3.16, N = 200, with 20 000
  steps (10x the landscape's), to see how far the landscape's large-alpha values are from
  constrained minima;
- ``molecules_n200_long.nc``: the landscape's N = 200 slice again with 20 000 steps, and the
  gamma = 0 and gamma > 0 predictions on it;
- ``validate_gamma/``: the 1-D reduced dynamics at N = 200 against the gamma > 0 runs.

``figures`` draws docs/figures/molecules_*.png and writes every number the README quotes
to docs/figures/molecules_numbers.txt: the L/U of the landscape, N_c, the runs' times, the
implicit norm-decay rate of the gamma = 0 runs and the prediction with it as an effective
gamma. ``--out docs/data`` redraws them from the committed runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _study import REPO, find, report, say, study_main

from reduced_dynamics.engine.parameters import critical_n_train, select_n_train
from reduced_dynamics.engine.thresholds import grok_threshold_of
from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure
from reduced_dynamics.plot.landscape import plot_n_train

LANDSCAPE = ("--alpha log:0.1:10:9 --n-train 10,30,100,200,500,2000 --steps 2000 "
             "--batch-size 32 --lr-scaling alpha --schedule cosine")
N_RUNS = 200
SIZES = "10,30,100,200,500,2000"  # the runs that measure N_c (alpha0 = 1, gamma = 0)
ETA = 1e-3  # the task's learning rate (SPEC §8: Adam 1e-3)


def commands(out: Path, threads: int) -> list[tuple[Path, str]]:
    """(output, command) of every computation, in the order they run."""
    t = f"--threads {threads} -q"
    shipped = REPO / "landscapes" / "molecules_cpu.nc"
    land = shipped if shipped.exists() else out / "molecules_cpu.nc"
    return [
        (land, f"probe molecules --preset qm9-cpu {LANDSCAPE} {t}"),
        (out / "molecules_gamma0.nc", "train molecules --preset qm9-cpu --gamma 0 --alpha0 1,3 "
         f"--n-train {N_RUNS} --steps 100000 --n-log 200 {t}"),
        (out / "molecules_gamma.nc", "train molecules --preset qm9-cpu --gamma 0.1,0.3 "
         f"--alpha0 3 --n-train {N_RUNS} --steps 30000 --n-log 150 {t}"),
        (out / "molecules_sizes.nc", "train molecules --preset qm9-cpu --gamma 0 --alpha0 1 "
         f"--n-train {SIZES} --steps 6000 --n-log 60 {t}"),
        (out / "molecules_probe_long.nc", "probe molecules --preset qm9-cpu --alpha "
         f"1.7782794,3.1622777 --n-train {N_RUNS} --steps 20000 --batch-size 32 "
         f"--lr-scaling alpha --schedule cosine {t}"),
        (out / "molecules_n200_long.nc", "probe molecules --preset qm9-cpu --alpha "
         f"log:0.1:10:9 --n-train {N_RUNS} --steps 20000 --batch-size 32 --lr-scaling alpha "
         f"--schedule cosine {t}"),
        (out / "validate_gamma", f"validate {land} {out / 'molecules_gamma.nc'}"),
    ]


def main() -> None:
    study_main(__doc__, commands, figures, "out/molecules")


def landscape_lines(land) -> list[str]:
    """The L (train) and U (test) over alpha at each N, and the critical data size."""
    lines = []
    for n in land["n_train"].values:
        s = select_n_train(land, int(n))
        a, tr, te = s["alpha"].values, s["train_loss"].values, s["test_loss"].values
        k = int(np.nanargmin(te))
        lines.append(f"N = {int(n):5d}: train loss " + " ".join(f"{v:.2g}" for v in tr))
        lines.append("          test loss  " + " ".join(f"{v:.2g}" for v in te)
                     + f"; minimum {te[k]:.3g} at alpha {a[k]:.2f}")
    lines.insert(0, "alpha = " + " ".join(f"{v:.2g}" for v in land["alpha"].values))
    crit = critical_n_train(land)
    lines.append(crit.describe())
    lines.append("  best reduced test loss per N: " + ", ".join(
        f"{n}: {b:.3g} (alpha {a:.2g})" for n, b, a in zip(crit.n_values, crit.best,
                                                            crit.best_alpha)))
    unconv = ~land["converged"].values
    lines.append(f"unconverged points: {int(unconv.sum())} of {unconv.size}")
    return lines


def decay_rate(run, t0: float, t1: float) -> tuple[float, float]:
    """Least-squares slope of ln w over logged steps in [t0, t1] (per step), and its
    standard error: the measured rate is -slope."""
    step, w = run["step"].values, run["w"].values
    k = (step >= t0) & (step <= t1) & np.isfinite(w)
    if k.sum() < 3:
        return float("nan"), float("nan")
    x, y = step[k].astype(float), np.log(w[k])
    p, cov = np.polyfit(x, y, 1, cov=True)
    return float(-p[0]), float(np.sqrt(cov[0, 0]))


def run_lines(runs, label: str) -> list[str]:
    """t_overfit, t_grok, the minimum test loss and the norm per run."""
    lines = []
    for r in range(runs.sizes["run"]):
        x = runs.isel(run=r)
        a0, w = float(x["alpha0"]), x["w"].values
        te, step = x["test_loss"].values, x["step"].values
        k = int(np.nanargmin(te))
        lines.append(
            f"{label} alpha0 {a0:g} gamma {float(x['gamma']):g}: t_overfit "
            f"{float(x['t_overfit']):.0f}, t_grok {float(x['t_grok']):.0f}; test loss "
            f"{te[1]:.3g} at step {step[1]:.0f}, min {te[k]:.3g} at {step[k]:.0f}, final "
            f"{te[-1]:.3g}; train loss final {x['train_loss'].values[-1]:.3g}; alpha "
            f"{a0:g} -> {a0 * w[-1] / w[0]:.3f} (max {a0 * np.nanmax(w) / w[0]:.3f})")
    return lines


def long_probe_lines(long, land) -> list[str]:
    """The probe at two large norms with 10x the steps, against the landscape's values."""
    lines = []
    base = select_n_train(land, N_RUNS)
    for i, a in enumerate(long["alpha"].values):
        j = int(np.argmin(np.abs(base["alpha"].values - a)))
        pick = {"w": i}
        if "n_train" in long.dims:
            pick["n_train"] = 0
        x = long.isel(**pick)
        lines.append(f"probe at alpha {a:.3g}, N = {N_RUNS}, {long_steps(long)} steps: train "
                     f"loss {float(x['train_loss']):.3g} (landscape: "
                     f"{float(base['train_loss'][j]):.3g}), test loss "
                     f"{float(x['test_loss']):.3g} (landscape: {float(base['test_loss'][j]):.3g})"
                     f", converged {bool(x['converged'])}")
    return lines


def long_steps(ds) -> int:
    import json

    return int(json.loads(ds.attrs["config_json"])["probe"]["steps"])


def slice_lines(long, gamma0, gamma) -> list[str]:
    """The N = 200 slice with 10x the steps: its losses, and the 1-D predictions from
    alpha = 3 on it at gamma = 0 and at the gamma > 0 runs' gammas."""
    from reduced_dynamics import predict_grokking_times

    s = select_n_train(long, N_RUNS)
    lines = [f"N = {N_RUNS}, {long_steps(long)} steps: alpha " + " ".join(
        f"{v:.2g}" for v in s["alpha"].values),
        "  train loss " + " ".join(f"{v:.2g}" for v in s["train_loss"].values),
        "  test loss  " + " ".join(f"{v:.2g}" for v in s["test_loss"].values),
        f"  unconverged: {int((~s['converged'].values).sum())} of {s.sizes['w']}"]
    measured = {0.0: float(gamma0["t_grok"].values[gamma0["alpha0"].values == 3.0][0])}
    measured.update({float(g): float(t) for g, t in zip(gamma["gamma"].values,
                                                        gamma["t_grok"].values)})
    pred = predict_grokking_times(long, gamma=sorted(measured), eta_d=ETA, start=3.0,
                                  n_train=N_RUNS)
    for g, t, status in zip(pred["gamma"].values, pred["t_grok"].values.ravel(),
                            pred["status"].values.ravel()):
        lines.append(f"  from alpha 3, gamma {g:g}: predicted t_grok {t:.4g} ({status}), "
                     f"measured {measured[float(g)]:.0f}")
    return lines


def size_line(sizes) -> str:
    """N_c from runs: the smallest N whose run reaches the test-loss threshold."""
    n, t = sizes["n_train"].values, sizes["t_grok"].values
    reached = sorted(int(v) for v in n[np.isfinite(t)])
    return (f"N_c from the alpha0 = 1 runs: {reached[0] if reached else 'none'} (N reaching "
            f"the threshold: {reached}; of {sorted(int(v) for v in n)})")


def implicit_lines(gamma0, land) -> list[str]:
    """The implicit norm-decay rate of each gamma = 0 run (ln w against steps from step
    1000, after the fast phase, to its t_grok, else the end: the delay), the 1-D prediction
    with it as an effective gamma = rate / eta, and the landscape's own gamma = 0 one."""
    from reduced_dynamics import predict_grokking_times

    lines = []
    for r in range(gamma0.sizes["run"]):
        x = gamma0.isel(run=r)
        a0 = float(x["alpha0"])
        t_gr = float(x["t_grok"])
        t0 = 1000.0
        t1 = t_gr if np.isfinite(t_gr) and t_gr > 2 * t0 else float(x["step"].values[-1])
        pred0 = predict_grokking_times(land, gamma=[0.0], eta_d=ETA, start=a0, n_train=N_RUNS)
        lines.append(f"alpha0 {a0:g}: the landscape's gamma = 0 prediction t_grok "
                     f"{float(pred0['t_grok'].values.ravel()[0]):.4g} (status "
                     f"{pred0['status'].values.ravel()[0]}), measured {t_gr:.0f}")
        step, te = x["step"].values, x["test_loss"].values
        marks = [k for k in (1000, 10_000, 20_000, 30_000, 40_000, 50_000) if k <= step[-1]]
        lines.append(f"alpha0 {a0:g}: test loss at steps " + ", ".join(
            f"{k}: {te[int(np.argmin(np.abs(step - k)))]:.3g}" for k in marks))
        rate, se = decay_rate(x, t0, t1)
        line = (f"alpha0 {a0:g}, gamma 0: d ln w / dt over steps [{t0:.0f}, {t1:.0f}] = "
                f"{-rate:.3g} ± {se:.2g} per step (implicit decay rate {rate:.3g})")
        if not (np.isfinite(rate) and rate > 0):
            lines.append(line + ": the norm does not decay, so no effective gamma > 0 exists")
            continue
        g_eff = rate / ETA
        pred = predict_grokking_times(land, gamma=[g_eff], eta_d=ETA, start=a0,
                                      n_train=N_RUNS)
        t_pred = float(pred["t_grok"].values.ravel()[0])
        ratio = t_pred / t_gr if np.isfinite(t_gr) and t_gr > 0 else float("nan")
        lines.append(line + f"; effective gamma {g_eff:.3g}: predicted t_grok {t_pred:.0f}"
                     f" (status {pred['status'].values.ravel()[0]}), measured {t_gr:.0f}, "
                     f"ratio predicted/measured {ratio:.2f}")
    return lines


def run_figure(gamma0, gamma, threshold: float):
    """Fig. 5d: test (solid) and train (dotted) loss and alpha over steps, gamma = 0 and > 0."""
    fig = new_figure(15.5, 4.2)
    axes = fig.subplots(1, 3)
    for ax_loss, runs, title in ((axes[0], gamma0, "gamma = 0 (Adam)"),
                                 (axes[1], gamma, "alpha0 = 3, AdamW gamma > 0")):
        for r in range(runs.sizes["run"]):
            x = runs.isel(run=r)
            step = x["step"].values
            pos = step > 0
            label = f"alpha0 {float(x['alpha0']):g}, gamma {float(x['gamma']):g}"
            line, = ax_loss.loglog(step[pos], x["test_loss"].values[pos], label=label)
            ax_loss.loglog(step[pos], x["train_loss"].values[pos], ":", color=line.get_color())
            a = float(x["alpha0"]) * x["w"].values / x["w"].values[0]
            axes[2].semilogx(step[pos], a[pos], color=line.get_color(),
                             ls="-" if runs is gamma0 else "--", label=label)
        ax_loss.axhline(threshold, color="k", lw=0.8, ls="--", label=f"threshold {threshold:g}")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss (solid test, dotted train)")
        ax_loss.set_title(f"N = {N_RUNS}, {title}", fontsize=10)
        ax_loss.legend(fontsize=7)
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("alpha = w / w0")
    axes[2].set_title("weight norm", fontsize=10)
    axes[2].legend(fontsize=7)
    return fig


def figures(out: Path, folder: Path) -> None:
    """Every figure of the section and the numbers the README quotes."""
    log: list[str] = []
    land = open_landscape(find(out, "molecules_cpu.nc"))
    write_figure(plot_n_train(land), folder / "molecules_landscape.png")
    say(landscape_lines(land), log)
    gamma0 = open_trajectories(find(out, "molecules_gamma0.nc"))
    gamma = open_trajectories(find(out, "molecules_gamma.nc"))
    threshold = grok_threshold_of(gamma0)[0]
    say([f"grokking threshold: test loss <= {threshold:g}"], log)
    say(run_lines(gamma0, "gamma0 run") + run_lines(gamma, "gamma run"), log)
    say(implicit_lines(gamma0, land), log)
    say(long_probe_lines(open_landscape(find(out, "molecules_probe_long.nc")), land), log)
    slice_path = out / "molecules_n200_long.nc"
    if slice_path.exists():
        say(slice_lines(open_landscape(slice_path), gamma0, gamma), log)
    sizes = open_trajectories(find(out, "molecules_sizes.nc"))
    say([*run_lines(sizes, "size run"), size_line(sizes)], log)
    rep = report(out, "molecules_cpu.nc", "molecules_gamma.nc")
    for r in range(rep.sizes["run"]):
        x = rep.isel(run=r)
        say([f"validate gamma {float(x['gamma']):g}: measured t_grok "
             f"{float(x['t_grok_measured']):.0f}, predicted {float(x['t_grok_predicted']):.0f}"
             f", ratio {float(x['t_grok_ratio']):.2f}"], log)
    write_figure(run_figure(gamma0, gamma, threshold), folder / "molecules_runs.png")
    write_text("\n".join(log) + "\n", folder / "molecules_numbers.txt")
    print(f"wrote the figures and molecules_numbers.txt into {folder}")


if __name__ == "__main__":
    main()
