"""The data-size figure (Fig. 6e): the boundary contours l̃_train = θ of every N on one
(alpha, m) plane, each N's generalising region G_N (its edge, and the star), the start and
each N's reduced path, with the verdicts in the legend (see `reduced_dynamics.plot`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.errors import bad_value
from reduced_dynamics.plot import panel_axes

_NEEDED = ("connects", "contour_alpha", "contour_m", "slide_alpha", "region_alpha",
           "path_alpha", "star_alpha", "theta", "t_grok")


def _nearest_gamma(result: xr.Dataset, gamma: float) -> int:
    """Index of the γ of ``result`` nearest ``gamma`` (in log γ; γ = 0 only matches 0)."""
    g = result["gamma"].values.astype(float)
    with np.errstate(divide="ignore"):
        d = np.abs(np.log(np.where(g > 0, g, np.nan)) - math.log(gamma)) if gamma > 0 \
            else np.where(g == 0, 0.0, np.inf)
    return int(np.nanargmin(np.where(np.isfinite(d), d, np.inf)))


def verdict(result: xr.Dataset, k: int) -> str:
    """The legend text of N = n_train[k]: the connection, the contour's slope θ_N along
    the slide, and t_grok at the γ nearest the paths' (``path_gamma``), or that it never
    groks."""
    sub = result.isel(n_train=k)
    n = int(sub["n_train"])
    if bool(sub["connects"]):
        text = (f"N={n}: connects at alpha={float(sub['connect_alpha']):.3g}, "
                f"m={float(sub['connect_m']):.3g}")
    else:
        text = f"N={n}: no connection ({sub['slide_end'].item()})"
    j = _nearest_gamma(result, float(result.attrs.get("path_gamma", 0.0)))
    theta = float(sub["slide_theta"]) if "slide_theta" in sub else float("nan")
    if np.isfinite(theta):
        text += f"; slope theta={math.degrees(theta):.1f} deg"
    t = float(sub["t_grok"].values[j])
    g = float(result["gamma"].values[j])
    if bool(sub["never_grok"]):
        text += "; never groks"
    elif np.isfinite(t):
        text += f"; t_grok={t:.3g} at gamma={g:g}"
    else:
        text += f"; no grok at gamma={g:g}"
    return text


def plot_datasize(result: xr.Dataset, *, ax: Any = None, fig: Any = None) -> Any:
    """Fig. 6e from ``result`` (`datasize.data_size_dependence`, or `open_datasize`): per N
    (one colour each) the contour l̃_train = θ (dashed), the slide along it from D'
    (thick), the edge of G_N (dotted), the star (the lowest l̃_test in G_N, green), the
    point where the slide enters G_N (open circle) and the reduced path at ``path_gamma``
    (thin); the start (black); log alpha on x, m on y. Draws into ``ax`` (one Axes) or
    ``fig`` or a new Figure; returns the Figure."""
    if not (isinstance(result, xr.Dataset) and "n_train" in result.dims
            and all(k in result for k in _NEEDED)):
        raise bad_value("result", type(result).__name__, "the Dataset `data_size_dependence` "
                        "returns (or `open_datasize` reads): dims n_train, gamma; variables "
                        + ", ".join(_NEEDED))
    from matplotlib.lines import Line2D

    fig, (ax,), own = panel_axes(1, "the data-size figure (contours over (alpha, m))",
                                 ax=ax, fig=fig, width=12.0, height=5.5)
    a = result.attrs
    for k, n in enumerate(result["n_train"].values):
        sub = result.isel(n_train=k)
        c = f"C{k % 10}"
        ax.plot(sub["contour_alpha"], sub["contour_m"], color=c, lw=1.0, ls="--")
        ax.plot(sub["region_alpha"], sub["region_m"], color=c, lw=1.0, ls=":")
        ax.plot(sub["path_alpha"], sub["path_m"], color=c, lw=0.9, alpha=0.6)
        ax.plot(sub["slide_alpha"], sub["slide_m"], color=c, lw=3.0, alpha=0.85,
                label=verdict(result, k), gid=f"slide_{int(n)}")
        if np.isfinite(float(sub["star_alpha"])):
            ax.plot(float(sub["star_alpha"]), float(sub["star_m"]), "*", ms=15,
                    mfc="limegreen", mec=c, mew=1.5, gid=f"star_{int(n)}")
        if bool(sub["connects"]):
            ax.plot(float(sub["connect_alpha"]), float(sub["connect_m"]), "o", ms=9,
                    mfc="none", mec=c, mew=2.0, gid=f"connect_{int(n)}")
    if "start_alpha" in a:
        ax.plot(a["start_alpha"], a["start_m"], "ko", ms=7, gid="start")
        ax.annotate("start", (a["start_alpha"], a["start_m"]), textcoords="offset points",
                    xytext=(6, 4), fontsize=9)
    theta = a.get("theta_train", float("nan"))
    rule = (f"test acc >= {a.get('grok_threshold', float('nan')):g}"
            if a.get("grok_on", "acc") == "acc"
            else f"test loss <= {a.get('grok_threshold', float('nan')):g}")
    keys = [Line2D([], [], color="grey", ls="--", lw=1.0, label=f"l_train = {theta:g}"),
            Line2D([], [], color="grey", lw=3.0, label="slide D' -> end along it"),
            Line2D([], [], color="grey", ls=":", lw=1.0, label=f"edge of G_N ({rule})"),
            Line2D([], [], color="grey", lw=0.9,
                   label=f"reduced path at gamma = {a.get('path_gamma', float('nan')):g}"),
            Line2D([], [], ls="none", marker="*", ms=12, mfc="limegreen", mec="grey",
                   label="star: lowest test loss in G_N"),
            Line2D([], [], ls="none", marker="o", ms=8, mfc="none", mec="grey",
                   label="slide enters G_N")]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + keys, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0)
    if "alpha_min" in a:
        ax.set_xlim(a["alpha_min"], a["alpha_max"])
        pad = 0.03 * (a["m_max"] - a["m_min"])  # stars on m = m_min stay visible
        ax.set_ylim(a["m_min"] - pad, a["m_max"] + pad)
    ax.set_xscale("log")
    ax.set_xlabel(r"$\alpha = w / w_0$")
    ax.set_ylabel("messiness m")
    ax.set_title(f"boundary l_train = {theta:g} per training-set size N (Fig. 6e); "
                 f"eta_d = {a.get('eta_d', float('nan')):g}", fontsize=9)
    if own:
        fig.suptitle(f"{a.get('task', '')} {a.get('preset', '')}".strip() or None,
                     fontsize=10)
    return fig
