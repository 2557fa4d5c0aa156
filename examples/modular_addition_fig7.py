"""Fig. 7 and 10a of Omnigrok for Nanda's transformer, from trajectory files.

    python examples/modular_addition_fig7.py [--gamma-runs docs/data/nanda_gamma.nc]
        [--constrained docs/data/nanda_constrained.nc] [-o docs/figures]

The files come from `examples/gpu_studies.sh` (an H100; the commands are there) or from
the same `reduced-dynamics train modular-addition ...` commands with ``--preset cpu``.
Prints the numbers the README quotes: the norm's rise and fall, the delays, the fitted
exponent of t_grok vs gamma.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _study import curves
from matplotlib.figure import Figure

from reduced_dynamics.engine.fits import fit_exponent
from reduced_dynamics.io.atomic import write_figure
from reduced_dynamics.io.trajectory_file import open_trajectories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma-runs", default="docs/data/nanda_gamma.nc")
    parser.add_argument("--constrained", default="docs/data/nanda_constrained.nc")
    parser.add_argument("-o", "--output", default="docs/figures")
    args = parser.parse_args()
    runs = open_trajectories(args.gamma_runs)
    cons = open_trajectories(args.constrained)
    w0 = float(runs.attrs["w0"])
    step = runs["step"].values

    for r in range(runs.sizes["run"]):
        run = runs.isel(run=r)
        w = run["w"].values / w0
        k = int(np.nanargmax(w))
        print(f"gamma {float(run['gamma']):g} seed {int(run['seed'])}: w/w0 peaks at "
              f"{w[k]:.2f} (step {step[k]}), ends at {w[-1]:.2f}; 95 % train at step "
              f"{float(run['t_overfit']):.0f}, 95 % test at {float(run['t_grok']):.0f}")
    c = cons.isel(run=0)
    print(f"constrained alpha {float(c['alpha0']):g}, gamma 0: 95 % train at "
          f"{float(c['t_overfit']):.0f}, 95 % test at {float(c['t_grok']):.0f} (delay "
          f"{float(c['t_grok'] - c['t_overfit']):.0f} steps)")
    gamma, t = runs["gamma"].values, runs["t_grok"].values
    for label, keep in (("all gamma", np.ones_like(gamma, bool)), ("gamma <= 4", gamma <= 4)):
        fit = fit_exponent(gamma[keep], t[keep])
        print(f"t_grok ~ gamma^p over {label}: p = {fit['exponent']:.2f} ± "
              f"{fit['exponent_stderr']:.2f} (n = {fit['n_fit']})")

    fig = Figure(figsize=(11, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    first = runs.isel(run=int(np.flatnonzero((gamma == 1) & (runs["seed"].values == 0))[0]))
    curves(axes[0], first, w0, "Fig. 7a: AdamW, weight decay 1")
    curves(axes[1], c, float(cons.attrs["w0"]), "Fig. 7b: norm fixed at 0.8 w0, no decay")
    for s in np.unique(runs["seed"].values):
        k = runs["seed"].values == s
        axes[2].loglog(gamma[k], t[k], "o-", label=f"seed {s}")
    g = np.geomspace(gamma.min(), gamma.max())
    fit = fit_exponent(gamma[gamma <= 4], t[gamma <= 4])
    axes[2].loglog(g, np.exp(fit["intercept"]) * g ** fit["exponent"], "k:",
                   label=f"fit γ≤4: p = {fit['exponent']:.2f}")
    axes[2].set_xlabel("weight decay γ")
    axes[2].set_ylabel("steps to 95 % test accuracy")
    axes[2].set_title("Fig. 10a")
    axes[2].legend()
    out = Path(args.output) / "modular_addition_fig7.png"
    write_figure(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
