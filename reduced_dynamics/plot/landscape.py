"""Figures of landscape files (matplotlib is imported here, lazily, with the Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_landscape(ds: xr.Dataset, output: str | Path, *, boundary: float = 0.05) -> Path:
    """Heatmaps of reduced train and test loss over (log10 alpha, m), like Fig. 6a,b.

    The dashed line is the contour ``train_loss = boundary`` (regions I / II); hatched
    cells are points whose minimisation did not converge. 1-D landscapes get curves.
    """
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    alpha = ds["alpha"].values
    if "m" not in ds.dims:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        ax.loglog(alpha, ds["train_loss"].values, "o-", label="train (L)")
        ax.loglog(alpha, ds["test_loss"].values, "s-", label="test (U)")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("reduced loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(output, dpi=130)
        plt.close(fig)
        return Path(output)
    m = ds["m"].values
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, var, title in zip(axes, ("train_loss", "test_loss"),
                              (r"reduced train loss $\tilde l_{train}$",
                               r"reduced test loss $\tilde l_{test}$")):
        z = ds[var].transpose("m", "w").values
        z = np.clip(z, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=LogNorm(vmin=max(np.nanmin(z), 1e-5),
                                                       vmax=np.nanmax(z)),
                             shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax)
        ax.contour(alpha, m, ds["train_loss"].transpose("m", "w").values, levels=[boundary],
                   colors="yellow", linestyles="--")
        unconv = ~ds["converged"].transpose("m", "w").values
        if unconv.any():
            ax.contourf(alpha, m, unconv.astype(float), levels=[0.5, 1.5], hatches=["//"],
                        colors="none")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("m (messiness)")
        ax.set_title(title)
    ax = axes[2]
    for j in np.unique(np.linspace(0, len(m) - 1, 4).round().astype(int)):
        line = ax.loglog(alpha, ds["train_loss"].isel(m=j).values, "-", lw=1.5)[0]
        ax.loglog(alpha, ds["test_loss"].isel(m=j).values, "--", color=line.get_color(),
                  label=f"m={m[j]:.3g}")
    ax.set_xlabel(r"$\alpha$")
    ax.set_title("train (solid, L) and test (dashed, U)")
    ax.legend(fontsize=8)
    fig.suptitle(f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}); dashed yellow: "
                 f"train loss = {boundary}; hatched: not converged", fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=130)
    plt.close(fig)
    return Path(output)


def plot_validation(report: xr.Dataset, landscape: xr.Dataset, folder: str | Path
                    ) -> list[Path]:
    """t_grok vs gamma (measured points, predicted line) and paths over the landscape."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    folder = Path(folder)
    gamma = report["gamma"].values
    order = np.argsort(gamma, kind="stable")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    a = report.attrs
    ax.loglog(gamma, report["t_grok_measured"].values, "o", color="C0",
              label=f"measured t_grok (exponent {a['exponent_measured']:.2f} ± "
                    f"{a['exponent_measured_stderr']:.2f})")
    ax.loglog(gamma[order], report["t_grok_predicted"].values[order], "-", color="C1",
              label=f"predicted t_grok (exponent {a['exponent_predicted']:.2f})")
    ax.loglog(gamma, report["t_overfit_measured"].values, "x", color="C2",
              label="measured t_overfit")
    ax.loglog(gamma[order], report["t_overfit_predicted"].values[order], ":", color="C2",
              label="predicted t_overfit (gradient flow)")
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel("steps")
    ax.legend(fontsize=7)
    ax.set_title("grokking time vs weight decay")
    fig.tight_layout()
    first = folder / "t_grok_vs_gamma.png"
    fig.savefig(first, dpi=130)
    plt.close(fig)

    if "m" not in landscape.dims:  # 1-D landscape (teacher-student): alpha over time
        return [first, _paths_1d(report, float(landscape.attrs["w0"]), folder / "paths.png")]
    w0 = float(landscape.attrs["w0"])
    alpha = landscape["alpha"].values
    m = landscape["m"].values
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, var in zip(axes, ("train_loss", "test_loss")):
        z = np.clip(landscape[var].transpose("m", "w").values, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=LogNorm(vmin=max(np.nanmin(z), 1e-5),
                                                       vmax=np.nanmax(z)),
                             shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=var)
        for r in range(report.sizes["run"]):
            color = plt.cm.autumn(r / max(report.sizes["run"] - 1, 1))
            x = report.isel(run=r)
            label = f"γ={float(x['gamma']):.3g} s{int(x['seed'])}"
            ax.plot(x["w_measured"].values / w0, x["m_measured"].values, "-", color=color,
                    lw=1.3, label=label + " measured")
            ax.plot(x["w_predicted"].values / w0, x["m_predicted"].values, "--", color=color,
                    lw=1.3)
            ax.plot(float(x["alpha0"]), float(x["m0"]), "s", color=color, ms=5)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_title(f"{var}: measured (solid) vs predicted (dashed) paths")
    axes[0].set_ylabel("m (least-squares coordinate for the runs)")
    axes[0].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    second = folder / "paths.png"
    fig.savefig(second, dpi=130)
    plt.close(fig)
    return [first, second]


def _paths_1d(report: xr.Dataset, w0: float, path: Path) -> Path:
    """alpha(t) of each run, measured (solid) vs predicted (dashed), for a 1-D landscape."""
    plt = _pyplot()
    step = report["step"].values
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r in range(report.sizes["run"]):
        color = plt.cm.viridis(r / max(report.sizes["run"] - 1, 1))
        x = report.isel(run=r)
        ax.loglog(step[1:], x["w_measured"].values[1:] / w0, "-", color=color, lw=1.3,
                  label=f"γ={float(x['gamma']):.3g} s{int(x['seed'])}")
        ax.loglog(step[1:], x["w_predicted"].values[1:] / w0, "--", color=color, lw=1.3)
        t_grok = float(x["t_grok_measured"])
        if np.isfinite(t_grok):
            ax.plot(t_grok, np.interp(t_grok, step, x["w_measured"].values) / w0, "o",
                    color=color, ms=4)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\alpha = w / w_0$")
    ax.set_title("measured (solid) vs predicted (dashed) norm; dots: measured t_grok",
                 fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return Path(path)
