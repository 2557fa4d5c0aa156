"""Figures for predictions: a path on the landscapes (Fig. 6a–c; `plot_path_1d` on a
landscape without m) and t vs γ (log-log).

Each returns a matplotlib `Figure` (see `reduced_dynamics.plot`); the CLI saves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.engine.predict import TIME_UNITS, PreparedLandscape
from reduced_dynamics.names import BOUNDARY_LOSS
from reduced_dynamics.plot import panels, single_axes

_POINT_STYLE = {"A": "o", "B": "s", "C": "D", "D": "^", "E": "*"}


def plot_path(prep: PreparedLandscape, path: xr.Dataset, *, fig: Any = None,
              n_grid: int = 160) -> Any:
    """Train and test landscapes (log10 loss over alpha, m) with the path and A–E, and the
    losses along the path against t (three panels, drawn into ``fig`` or a new Figure);
    returns the Figure. ``path``: the result of `predict.analyze_path`."""
    it = prep.interp
    theta = float(path.attrs.get("event_theta_train", BOUNDARY_LOSS))
    u = np.linspace(it.ug[0], it.ug[-1], n_grid)
    m = np.linspace(it.mg[0], it.mg[-1], n_grid)
    uu, mm = np.meshgrid(u, m, indexing="xy")
    ev = it.evaluate_u(uu, mm)
    alpha = np.exp(u) / prep.w0
    fig, axes = panels(fig, 3, 15, 4.6)
    path_alpha = path["w"].values / prep.w0
    pt_alpha = path["w_point"].values / prep.w0
    pt_m = path["m_point"].values
    for ax, key, label in ((axes[0], "train_loss", "(a) train loss"),
                           (axes[1], "test_loss", "(b) test loss")):
        z = np.log10(np.maximum(ev[key], 1e-12))
        mesh = ax.pcolormesh(alpha, m, z, shading="auto", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"log10 {key}")
        ax.contour(alpha, m, ev["train_loss"], levels=[theta], colors="yellow",
                   linestyles="--", linewidths=1.2)
        ax.plot(path_alpha, path["m"].values, color="white", lw=1.6)
        for name, a, mv in zip(path["point"].values, pt_alpha, pt_m):
            if np.isfinite(a) and np.isfinite(mv):
                ax.plot(a, mv, _POINT_STYLE.get(str(name), "o"), color="red", ms=8,
                        mec="white")
                ax.annotate(str(name), (a, mv), textcoords="offset points", xytext=(5, 5),
                            color="white", fontsize=10, weight="bold")
        ax.set_xscale("log")
        ax.set_xlabel("alpha = w / w0")
        ax.set_ylabel("messiness m")
        ax.set_title(f"{label}; dashed: l_train = {theta:g}")
    ax = axes[2]
    t = path["t"].values
    ok = t > 0
    ax.loglog(t[ok], path["train_loss"].values[ok], label="train loss")
    ax.loglog(t[ok], path["test_loss"].values[ok], label="test loss")
    _mark_points(ax, path)
    ax.set_ylabel("loss")
    n_desc = int(path["n_descents"])
    ax.set_title("(c) losses along the path")
    ax.legend(fontsize=8, title=f"{n_desc} test-loss descent(s)", title_fontsize=8)
    fig.suptitle(f"gamma = {path.attrs['gamma']:g}, eta_d = {path.attrs['eta_d']:g}, "
                 f"eta_r = {path.attrs['eta_r']:g}, status {path['status'].item()}; "
                 f"{prep.source}", fontsize=10)
    return fig


def plot_gamma(pred: xr.Dataset, *, ax: Any = None) -> Any:
    """t_grok, t_overfit, closed and geometric forms against γ (log-log), with the fitted
    power law, into ``ax`` (or a new Figure); returns the Figure. ``pred``: the result of
    `predict.predict_grokking_times`."""
    g = pred["gamma"].values
    fig, ax = single_axes(ax, 6.4, 4.8)
    series = (("t_grok", "o-", "t_grok (integrated)"), ("t_overfit", "s-", "t_overfit"),
              ("t_closed", "--", "closed form ln(w_C/w_c)/(eta_d gamma)"),
              ("t_geometric", ":", "geometric (L + h tan theta)/(eta_d gamma)"))
    for key, style, label in series:
        y = pred[key].values.astype(float)
        ok = np.isfinite(y) & (y > 0) & (g > 0)
        if ok.any():
            ax.loglog(g[ok], y[ok], style, label=label)
    p = float(pred["exponent"])
    if np.isfinite(p):
        c = float(pred["intercept"])
        gg = np.geomspace(g[g > 0].min(), g.max(), 50)
        se = float(pred["exponent_stderr"])
        ax.loglog(gg, np.exp(c) * gg**p, "k-", lw=0.8,
                  label=f"fit: t_grok ~ gamma^({p:.3f} ± {se:.3f})")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("weight decay gamma")
    ax.set_ylabel(f"t [{TIME_UNITS}]", fontsize=8)
    m_text = f", m = {pred.attrs['start_m']:g}" if "start_m" in pred.attrs else ""
    ax.set_title(f"start alpha = {pred.attrs['start_alpha']:g}{m_text}; eta_d = "
                 f"{pred.attrs['eta_d']:g}", fontsize=10)
    if ax.get_legend_handles_labels()[0]:  # nothing to label when no path has a finite time
        ax.legend(fontsize=7)
    return fig


def plot_path_1d(prep: PreparedLandscape, path: xr.Dataset, *, fig: Any = None,
                 n_grid: int = 200) -> Any:
    """One path on a landscape without m (1-D in w): (a) the reduced train and test loss
    against alpha (log-log) with the stretch the path covers and A–E, (b) alpha and the
    losses along the path against t. Returns the Figure (``fig``: draw into this one).
    ``path``: the result of `predict.analyze_path`."""
    fig, (ax_l, ax_t) = panels(fig, 2, 12, 4.4)
    it = prep.interp
    u = np.linspace(it.ug[0], it.ug[-1], n_grid)
    ev = it.evaluate_u(u, np.zeros_like(u))
    alpha = np.exp(u) / prep.w0
    theta = float(path.attrs.get("event_theta_train", BOUNDARY_LOSS))
    ax_l.loglog(alpha, ev["train_loss"], color="C0", label="train loss (L)")
    ax_l.loglog(alpha, ev["test_loss"], color="C1", label="test loss (U)")
    ax_l.axhline(theta, color="grey", ls="--", lw=0.8, label=f"l_train = {theta:g}")
    pa = path["w"].values / prep.w0
    ax_l.loglog(pa, path["train_loss"].values, color="k", lw=3, alpha=0.35,
                label="covered by the path")
    for name, w in zip(path["point"].values, path["w_point"].values):
        if np.isfinite(w):
            a = w / prep.w0
            lv = it.evaluate_u(np.array([np.log(w)]), np.zeros(1))["train_loss"][0]
            ax_l.plot(a, lv, _POINT_STYLE.get(str(name), "o"), color="red", ms=7)
            ax_l.annotate(str(name), (a, lv), textcoords="offset points", xytext=(4, 6))
    ax_l.set_xlabel("alpha = w / w0")
    ax_l.set_ylabel("reduced loss")
    ax_l.set_title("(a) the landscape and the path")
    ax_l.legend(fontsize=8)
    t = path["t"].values
    ok = t > 0
    ax_t.loglog(t[ok], pa[ok], "k-", label="alpha = w / w0")
    ax_t.loglog(t[ok], path["train_loss"].values[ok], label="train loss")
    ax_t.loglog(t[ok], path["test_loss"].values[ok], label="test loss")
    _mark_points(ax_t, path)
    ax_t.set_title("(b) along the path")
    ax_t.legend(fontsize=8)
    n_text = f"n_train = {int(path['n_train'])}, " if "n_train" in path.coords else ""
    fig.suptitle(f"{n_text}gamma = {path.attrs['gamma']:g}, eta = {path.attrs['eta_d']:g}, "
                 f"status {path['status'].item()}; {prep.source}", fontsize=10)
    return fig


def _mark_points(ax, path) -> None:
    """The points A–E of a path as dotted lines on a time axis (log t), labelled on top."""
    for name, tp in zip(path["point"].values, path["t_point"].values):
        if np.isfinite(tp) and tp > 0:
            ax.axvline(tp, color="grey", lw=0.8, ls=":")
            ax.text(tp, 1.0, str(name), ha="center", va="bottom", fontsize=9,
                    transform=ax.get_xaxis_transform())
    ax.set_xlabel(f"t [{TIME_UNITS}]", fontsize=8)
