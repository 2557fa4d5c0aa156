"""Teacher–student grokking (Omnigrok Section 3, Fig. 2a–c) end to end, with the 1-D reduced
dynamics predicting the steps to 95 % test accuracy of every run of the γ sweep.

    python examples/teacher_student_fig2.py [--out out/teacher_student]
        [--figures docs/figures] [--reprobe] [--steps 100000] [--threads 1]

1. The 1-D landscape l̃_train(α), l̃_test(α) (Fig. 2a): the shipped
   ``landscapes/teacher_student.nc``, or with ``--reprobe`` probed again (41 α × 3 restarts,
   10⁴ projected Adam steps each; 6 minutes on one core here).
2. Full AdamW runs, lr 3e-4, 10⁵ steps, one batched model of 12 runs (5.5 minutes on one
   core here): α ∈ {0.5, 2} × γ ∈ {0, 0.03, 1} (Fig. 2b) and, at α = 2, 8 values of γ in
   [0.03, 1] (Fig. 2c). ``OUT/runs.nc`` is reused when it exists (``--retrain`` redoes it).
3. The reduced dynamics dw/dt = −η(∂l̃_train/∂w + γw), η = 3e-4, integrated on the landscape
   from α = 2 for each γ, compared with the runs by `reduced_dynamics.validate`.

Writes FIGURES/teacher_student_fig2{a,b,c}.png, OUT/report/ (validation table, CSV, figures)
and OUT/summary.json, and prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from reduced_dynamics.config import RunSet
from reduced_dynamics.engine.fits import fit_exponent
from reduced_dynamics.io.atomic import write_figure, write_text
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.resources import landscape_path
from reduced_dynamics.io.trajectory_file import open_trajectories
from reduced_dynamics.plot import new_figure
from reduced_dynamics.tasks import get_task
from reduced_dynamics.validate import table, validate, write_report

ENTRY = get_task("teacher-student")
FIG2B_ALPHAS = (0.5, 2.0)
FIG2B_GAMMAS = (0.0, 0.03, 1.0)
SWEEP_GAMMAS = tuple(float(f"{g:.3g}") for g in np.geomspace(0.03, 1.0, 8))
KNEE_LOSS = 1e-3  # the knee of the L: first alpha with l~_train <= theta / 10


def run_set(seed: int = 1) -> RunSet:
    """Fig. 2b (alpha x gamma) and the alpha = 2 sweep, without duplicates."""
    pairs = [(a, g) for a in FIG2B_ALPHAS for g in FIG2B_GAMMAS]
    pairs += [(2.0, g) for g in SWEEP_GAMMAS if (2.0, g) not in pairs]
    n = len(pairs)
    return RunSet(gamma=tuple(g for _, g in pairs), seed=(seed,) * n,
                  alpha0=tuple(a for a, _ in pairs), m0=(0.0,) * n)


def landscape_marks(ls: xr.Dataset) -> dict[str, float]:
    """alpha of the test-loss minimum, of the knee of the L, and of the last point with
    test accuracy >= 0.95 (where the reduced dynamics says a shrinking student groks)."""
    alpha = ls["alpha"].values
    train, test = ls["train_loss"].values, ls["test_loss"].values
    acc = ls["test_acc"].values
    good = np.flatnonzero(acc >= 0.95)
    knee = np.flatnonzero(train <= KNEE_LOSS)
    alpha_c = float("nan")
    if good.size and good[-1] + 1 < alpha.size:  # linear in ln alpha, as the interpolant
        i = good[-1]
        s = (acc[i] - 0.95) / (acc[i] - acc[i + 1])
        alpha_c = float(np.exp(np.log(alpha[i]) + s * np.log(alpha[i + 1] / alpha[i])))
    return {"alpha_test_min": float(alpha[np.argmin(test)]),
            "test_loss_min": float(test.min()),
            "alpha_knee": float(alpha[knee[0]]) if knee.size else float("nan"),
            "alpha_last_test_acc_95": float(alpha[good[-1]]) if good.size else float("nan"),
            "alpha_c_test_acc_95": alpha_c}


def probe_again(out: Path) -> Path:
    from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
    from reduced_dynamics.tasks.base import w0_of

    task = ENTRY.preset("paper")
    seeds = ENTRY.probe_seeds
    alpha = np.geomspace(0.1, 10.0, 41)
    grid = ProbeGrid.no_m(alpha * w0_of(task, seeds[0]), seeds)
    path = out / "landscape.nc"
    probe_landscape(task, ENTRY.probe_preset("paper"), grid, path, resume=True,
                    history="examples/teacher_student_fig2.py --reprobe")
    return path


def fig2a(ls: xr.Dataset, marks: dict, path: Path) -> None:
    alpha = ls["alpha"].values
    fig = new_figure(5.2, 3.8)
    ax = fig.subplots()
    for s, seed in enumerate(ls["seed"].values):
        kw = {"color": "0.75", "lw": 0.7, "zorder": 1}
        ax.loglog(alpha, ls["train_loss_by_seed"].isel(seed=s), "-", **kw)
        ax.loglog(alpha, ls["test_loss_by_seed"].isel(seed=s), "--", **kw,
                  label="restarts (seeds " + ", ".join(map(str, ls["seed"].values)) + ")"
                  if s == 0 else None)
        del seed
    ax.loglog(alpha, ls["train_loss"], "o-", ms=3, color="C0", label=r"$\tilde l_{train}$ (L)")
    ax.loglog(alpha, ls["test_loss"], "s-", ms=3, color="C3", label=r"$\tilde l_{test}$ (U)")
    ax.axvline(marks["alpha_test_min"], color="C3", ls=":", lw=1)
    ax.plot(marks["alpha_test_min"], marks["test_loss_min"], "*", color="C3", ms=12,
            label=f"test minimum, α = {marks['alpha_test_min']:.2f}")
    knee = marks["alpha_knee"]
    if np.isfinite(knee):
        y = float(ls["train_loss"].sel(w=knee * float(ls.attrs["w0"]), method="nearest"))
        ax.plot(knee, y, "D", color="C0", ms=8, mfc="none", mew=2,
                label=rf"knee of the L ($\tilde l_{{train}} \leq$ {KNEE_LOSS:g}), α = {knee:.2f}")
    ax.set_xlabel(r"$\alpha = w / w_0$")
    ax.set_ylabel("reduced loss (MSE)")
    ax.set_title("Fig. 2a: teacher-student reduced landscape", fontsize=10)
    ax.legend(fontsize=7)
    write_figure(fig, path)


def fig2b(runs: xr.Dataset, path: Path) -> None:
    step = runs["step"].values
    fig = new_figure(6, 6)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, alpha in zip(axes, sorted(FIG2B_ALPHAS, reverse=True)):
        for k, gamma in enumerate(FIG2B_GAMMAS):
            sel = np.flatnonzero((runs["alpha0"].values == alpha)
                                 & np.isclose(runs["gamma"].values, gamma))
            r = runs.isel(run=int(sel[0]))
            ax.semilogx(step[1:], r["train_acc"].values[1:], "-", color=f"C{k}",
                        label=f"γ = {gamma:g} train")
            ax.semilogx(step[1:], r["test_acc"].values[1:], "--", color=f"C{k}",
                        label=f"γ = {gamma:g} test")
        ax.set_title(f"α = {alpha:g}", fontsize=10)
        ax.set_ylabel("accuracy (sq. error < 0.01)")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=7, ncol=3, loc="upper left")
    axes[1].set_xlabel("step (AdamW, lr 3e-4)")
    fig.suptitle("Fig. 2b: large init groks only with weight decay; small init always "
                 "generalises", fontsize=9)
    write_figure(fig, path)


def fig2c(sweep: dict, fit: dict, alpha_c: float, path: Path) -> None:
    g = sweep["gamma"]
    fig = new_figure(10, 3.9)
    axes = fig.subplots(1, 2)
    ax = axes[0]
    ax.loglog(g, sweep["t_train_95"], "o", color="C0", label="measured: 95 % train acc")
    ax.loglog(g, sweep["t_test_95"], "s", color="C3",
              label=f"measured: 95 % test acc (∝ γ^{fit['exponent']:.2f} ± "
                    f"{fit['exponent_stderr']:.2f})")
    ok = np.isfinite(sweep["t_test_95"])
    if ok.sum() >= 2:
        gg = np.geomspace(g.min(), g.max(), 50)
        ax.loglog(gg, np.exp(fit["intercept"]) * gg ** fit["exponent"], "-", color="C3",
                  lw=0.8)
    ax.loglog(g, sweep["t_test_95_predicted"], "x--", color="k", ms=7,
              label="predicted: 1-D reduced dynamics")
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel("steps")
    ax.legend(fontsize=7)
    ax.set_title("Fig. 2c (α = 2): steps to 95 % accuracy", fontsize=10)
    ax = axes[1]
    ax.semilogx(g, sweep["alpha_train_95"], "o", color="C0", label="at 95 % train acc")
    ax.semilogx(g, sweep["alpha_test_95"], "s", color="C3", label="at 95 % test acc")
    ax.axhline(2.0, color="0.6", lw=0.8, ls=":", label="α at init")
    ax.axhline(alpha_c, color="k", lw=0.8, ls="--",
               label=f"landscape: test acc 0.95 at α = {alpha_c:.2f} (prediction)")
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel(r"$\alpha = w / w_0$")
    ax.legend(fontsize=7)
    ax.set_title("weight norm at those moments", fontsize=10)
    write_figure(fig, path)


def value_at(runs: xr.Dataset, var: str, t: np.ndarray) -> np.ndarray:
    """``var`` of each run at its logged step ``t`` (NaN where t is NaN)."""
    step = runs["step"].values
    out = np.full(t.size, np.nan)
    for r, tr in enumerate(t):
        if np.isfinite(tr):
            out[r] = float(runs[var].isel(run=r).values[np.searchsorted(step, tr)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/teacher_student")
    parser.add_argument("--figures", default="docs/figures")
    parser.add_argument("--reprobe", action="store_true", help="probe the landscape again")
    parser.add_argument("--retrain", action="store_true", help="redo the runs even if "
                        "OUT/runs.nc exists")
    parser.add_argument("--steps", type=int, default=ENTRY.train.steps)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()

    import dataclasses

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    out, figs = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figs.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.perf_counter()
    landscape_file = probe_again(out) if args.reprobe else landscape_path("teacher_student.nc")
    timings["landscape_s"] = time.perf_counter() - start
    ls = open_landscape(landscape_file)
    marks = landscape_marks(ls)
    fig2a(ls, marks, figs / "teacher_student_fig2a.png")

    runs_file = out / "runs.nc"
    cfg = dataclasses.replace(ENTRY.train, steps=args.steps)
    start = time.perf_counter()
    if args.retrain or not runs_file.exists():
        from reduced_dynamics.training.sweep import run_training

        ckpt = runs_file.with_name(runs_file.name + ".ckpt")
        run_training(ENTRY.preset("paper"), cfg, run_set(), runs_file, resume=ckpt.exists(),
                     history="examples/teacher_student_fig2.py")
    timings["training_s"] = time.perf_counter() - start
    runs = open_trajectories(runs_file)
    fig2b(runs, figs / "teacher_student_fig2b.png")

    start = time.perf_counter()
    at2 = runs.isel(run=np.flatnonzero(runs["alpha0"].values == 2.0))
    report = validate(ls, at2)
    print(table(report))
    for path in write_report(report, ls, out / "report"):
        print(f"wrote {path}")
    timings["validation_s"] = time.perf_counter() - start

    w0 = float(runs.attrs["w0"])
    sel = np.flatnonzero(at2["gamma"].values > 0)
    sel = sel[np.argsort(at2["gamma"].values[sel])]
    swp, rep = at2.isel(run=sel), report.isel(run=sel)
    t_train, t_test = swp["t_overfit"].values, swp["t_grok"].values
    sweep = {
        "gamma": swp["gamma"].values,
        "t_train_95": t_train,
        "t_test_95": t_test,
        "t_test_95_predicted": rep["t_grok_predicted"].values,
        "alpha_train_95": value_at(swp, "w", t_train) / w0,
        "alpha_test_95": value_at(swp, "w", t_test) / w0,
    }
    fit = fit_exponent(sweep["gamma"], t_test)
    fit_pred = fit_exponent(sweep["gamma"], sweep["t_test_95_predicted"])
    fig2c(sweep, fit, marks["alpha_c_test_acc_95"], figs / "teacher_student_fig2c.png")

    ratio = sweep["t_test_95_predicted"] / t_test
    finite_train = t_train[np.isfinite(t_train)]
    small = runs.isel(run=np.flatnonzero(runs["alpha0"].values == 0.5))
    big0 = runs.isel(run=np.flatnonzero((runs["alpha0"].values == 2.0)
                                        & (runs["gamma"].values == 0.0)))
    summary = {
        "landscape": str(landscape_file),
        "landscape_marks": marks,
        "steps": int(cfg.steps),
        "sweep_gamma": sweep["gamma"].tolist(),
        "t_train_95": t_train.tolist(),
        "t_train_95_spread_max_over_min": float(finite_train.max() / finite_train.min())
        if finite_train.size else None,
        "t_train_95_rel_std": float(finite_train.std() / finite_train.mean())
        if finite_train.size else None,
        "t_test_95": t_test.tolist(),
        "gamma_times_t_test_95": (sweep["gamma"] * t_test).tolist(),
        "t_test_95_predicted": sweep["t_test_95_predicted"].tolist(),
        "ratio_predicted_over_measured": ratio.tolist(),
        "worst_factor": float(np.nanmax(np.maximum(ratio, 1 / ratio)))
        if np.isfinite(ratio).any() else None,
        "alpha_at_train_95": sweep["alpha_train_95"].tolist(),
        "alpha_at_test_95": sweep["alpha_test_95"].tolist(),
        "alpha_final_measured": (swp["w"].values[:, -1] / w0).tolist(),
        "alpha_final_predicted": (rep["w_predicted"].values[:, -1] / w0).tolist(),
        "status_predicted": [str(v) for v in rep["status_predicted"].values],
        "exponent_measured": fit["exponent"], "exponent_measured_stderr": fit["exponent_stderr"],
        "exponent_predicted": fit_pred["exponent"],
        "exponent_predicted_stderr": fit_pred["exponent_stderr"],
        "alpha_0.5": {f"gamma={g:g}": {"t_train_95": float(a), "t_test_95": float(b),
                                       "final_test_acc": float(c)}
                      for g, a, b, c in zip(small["gamma"].values, small["t_overfit"].values,
                                            small["t_grok"].values,
                                            small["test_acc"].values[:, -1])},
        "alpha_2_gamma_0": {"t_train_95": float(big0["t_overfit"].values[0]),
                            "t_test_95": float(big0["t_grok"].values[0]),
                            "final_test_acc": float(big0["test_acc"].values[0, -1]),
                            "max_test_acc": float(np.nanmax(big0["test_acc"].values[0]))},
        "timings_s": timings,
    }
    write_text(json.dumps(summary, indent=1), out / "summary.json")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
