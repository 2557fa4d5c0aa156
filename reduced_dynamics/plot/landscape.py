"""Figures of landscape files and of validation reports (see `reduced_dynamics.plot`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.errors import InputError
from reduced_dynamics.plot import panels, single_axes


def _log_norm(z: np.ndarray) -> Any:
    """A LogNorm over the finite positive range of ``z`` (never vmin >= vmax)."""
    from matplotlib.colors import LogNorm

    finite = z[np.isfinite(z)]
    lo = max(float(finite.min()), 1e-5) if finite.size else 1e-5
    hi = float(finite.max()) if finite.size else 1.0
    return LogNorm(vmin=lo, vmax=max(hi, lo * 10))


def plot_landscape(ds: xr.Dataset, *, boundary: float = 0.05, fig: Any = None,
                   ax: Any = None) -> Any:
    """Heatmaps of reduced train and test loss over (log10 alpha, m), like Fig. 6a,b, and
    curves of both losses at four values of m; returns the Figure.

    The dashed line is the contour ``train_loss = boundary`` (regions I / II); hatched
    cells are points whose minimisation did not converge. A (w, m) landscape draws three
    panels into ``fig``; a 1-D landscape draws its curves into ``ax``.
    """
    alpha = ds["alpha"].values
    if "m" not in ds.dims:
        if fig is not None and ax is None:
            ax = fig.subplots()
        fig, ax = single_axes(ax, 5, 3.6)
        ax.loglog(alpha, ds["train_loss"].values, "o-", label="train (L)")
        ax.loglog(alpha, ds["test_loss"].values, "s-", label="test (U)")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("reduced loss")
        ax.legend()
        return fig
    if ax is not None:
        raise InputError("a (w, m) landscape is drawn as three panels: pass `fig=` (a "
                         "matplotlib Figure to draw into), not `ax=`")
    m = ds["m"].values
    fig, axes = panels(fig, 3, 14, 4.2)
    for ax, var, title in zip(axes, ("train_loss", "test_loss"),
                              (r"reduced train loss $\tilde l_{train}$",
                               r"reduced test loss $\tilde l_{test}$")):
        z = np.clip(ds[var].transpose("m", "w").values, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=_log_norm(z), shading="nearest",
                             cmap="viridis")
        fig.colorbar(mesh, ax=ax)
        if len(m) > 1 and len(alpha) > 1:
            ax.contour(alpha, m, ds["train_loss"].transpose("m", "w").values,
                       levels=[boundary], colors="yellow", linestyles="--")
        unconv = ~ds["converged"].transpose("m", "w").values
        if unconv.any() and len(m) > 1 and len(alpha) > 1:
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
    return fig


def plot_t_grok_vs_gamma(report: xr.Dataset, *, ax: Any = None) -> Any:
    """Measured (points) and predicted (lines) t_grok and t_overfit against γ, log-log, from
    a `validate.validate` report; returns the Figure."""
    fig, ax = single_axes(ax, 5.5, 4)
    gamma = report["gamma"].values
    order = np.argsort(gamma, kind="stable")
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
    return fig


def plot_validation_paths(report: xr.Dataset, landscape: xr.Dataset, *, fig: Any = None,
                          ax: Any = None) -> Any:
    """Measured (solid) and predicted (dashed) paths of a `validate.validate` report over the
    train and test landscapes (two panels, ``fig``); for a 1-D landscape alpha(t) of each
    run (one panel, ``ax``). Returns the Figure."""
    from matplotlib import colormaps

    w0 = float(landscape.attrs["w0"])
    if "m" not in landscape.dims:
        if fig is not None and ax is None:
            ax = fig.subplots()
        return _paths_1d(report, w0, ax)
    if ax is not None:
        raise InputError("paths over a (w, m) landscape are drawn as two panels: pass "
                         "`fig=`, not `ax=`")
    alpha = landscape["alpha"].values
    m = landscape["m"].values
    fig, axes = panels(fig, 2, 13, 4.6, sharey=True)
    cmap = colormaps["autumn"]
    for ax, var in zip(axes, ("train_loss", "test_loss")):
        z = np.clip(landscape[var].transpose("m", "w").values, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=_log_norm(z), shading="nearest",
                             cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=var)
        for r in range(report.sizes["run"]):
            color = cmap(r / max(report.sizes["run"] - 1, 1))
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
    return fig


def _paths_1d(report: xr.Dataset, w0: float, ax: Any) -> Any:
    """alpha(t) of each run, measured (solid) vs predicted (dashed), for a 1-D landscape."""
    from matplotlib import colormaps

    fig, ax = single_axes(ax, 6.5, 4.2)
    cmap = colormaps["viridis"]
    step = report["step"].values
    for r in range(report.sizes["run"]):
        color = cmap(r / max(report.sizes["run"] - 1, 1))
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
    return fig
