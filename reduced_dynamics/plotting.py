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
        mesh = ax.pcolormesh(alpha, m, z, norm=LogNorm(vmin=max(z.min(), 1e-5), vmax=z.max()),
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
