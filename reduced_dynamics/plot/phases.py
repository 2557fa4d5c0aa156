"""Phase-diagram figures (SPEC §15): the four-colour diagram of one diagram over its two
grid axes (`plot_phases`), and a predicted and a measured diagram side by side with the
fraction of cells that agree (`plot_phase_comparison`); see `reduced_dynamics.plot`."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.errors import bad_value
from reduced_dynamics.names import PHASE_AXIS_META, PHASE_LOG_AXES, PHASE_NAMES, Phase
from reduced_dynamics.plot import panel_axes

PHASE_COLOURS = {Phase.COMPREHENSION: "#d62728", Phase.GROKKING: "#2ca02c",
                 Phase.MEMORISATION: "#1f77b4", Phase.CONFUSION: "#7f7f7f"}
"""One colour per phase (red, green, blue, grey)."""



def _check(ds: object, name: str) -> xr.Dataset:
    if not (isinstance(ds, xr.Dataset) and "phase" in ds.data_vars and ds["phase"].ndim == 2):
        raise bad_value(name, type(ds).__name__, "a phase-diagram Dataset (`predicted_phases`, "
                        "`measured_phases` or `open_phases`): a 2-D variable `phase`")
    return ds


def cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Edges of the cells centred on the grid ``values`` (geometric midpoints on a log
    axis); one value gets a cell of a factor 2 (log) or ± 0.5 (of the value, or 1)."""
    v = np.asarray(values, float)
    if v.size == 1:
        if log:
            return np.array([v[0] / np.sqrt(2.0), v[0] * np.sqrt(2.0)])
        half = 0.5 * (abs(v[0]) or 1.0)
        return np.array([v[0] - half, v[0] + half])
    x = np.log(v) if log else v
    mid = 0.5 * (x[1:] + x[:-1])
    edges = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
    return np.exp(edges) if log else edges


def _label(dim: str) -> str:
    return PHASE_AXIS_META[dim][0] if dim in PHASE_AXIS_META else dim


def _draw(ax: Any, ds: xr.Dataset, title: str) -> None:
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    xdim, ydim = (str(d) for d in ds["phase"].dims)
    xlog = xdim in PHASE_LOG_AXES and bool(np.all(ds[xdim].values > 0))
    ylog = ydim in PHASE_LOG_AXES and bool(np.all(ds[ydim].values > 0))
    codes = ds["phase"].values.T  # rows: y (the second axis), columns: x
    cmap = ListedColormap([PHASE_COLOURS[p] for p in Phase])
    norm = BoundaryNorm(np.arange(len(Phase) + 1) - 0.5, len(Phase))
    ax.pcolormesh(cell_edges(ds[xdim].values, xlog), cell_edges(ds[ydim].values, ylog),
                  codes, cmap=cmap, norm=norm, shading="flat", gid="phases")
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(_label(xdim))
    ax.set_ylabel(_label(ydim))
    counts = [int((codes == p).sum()) for p in Phase]
    handles = [Patch(facecolor=PHASE_COLOURS[p], label=f"{name} ({n})")
               for p, name, n in zip(Phase, PHASE_NAMES, counts)]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0)
    ax.set_title(title, fontsize=9)


def _rule_text(ds: xr.Dataset) -> str:
    a = ds.attrs
    return f"T = {float(a.get('T', np.nan)):g}, tau = {float(a.get('tau', np.nan)):g}"


def plot_phases(ds: xr.Dataset, *, ax: Any = None, fig: Any = None) -> Any:
    """The four-colour phase diagram of ``ds`` (`predicted_phases`, `measured_phases` or
    `open_phases`): one cell per grid point, the first grid axis on x, the second on y
    (eta_d and alpha0 on log axes), a legend with each phase's number of cells. Draws into
    ``ax`` (one Axes) or ``fig`` or a new Figure; returns the Figure."""
    ds = _check(ds, "ds")
    fig, (ax,), _ = panel_axes(1, "the phase diagram", ax=ax, fig=fig, width=6.5,
                               height=4.5)
    what = ds.attrs.get("diagram", "")
    _draw(ax, ds, f"{what} phases ({_rule_text(ds)})".strip())
    return fig


def plot_phase_comparison(pred: xr.Dataset, meas: xr.Dataset, *, ax: Any = None,
                          fig: Any = None) -> Any:
    """Predicted (left) and measured (right) phase diagrams on the same grid, with the
    fraction of cells that agree (`phases.compare_phases`) in the title (the first panel's
    when ``ax`` is given: two Axes of one figure). Returns the Figure."""
    from reduced_dynamics.phases import compare_phases

    pred, meas = _check(pred, "pred"), _check(meas, "meas")
    cmp = compare_phases(pred, meas)
    meas = meas.transpose(*pred["phase"].dims, ...)
    fig, axes, own = panel_axes(2, "predicted and measured phase diagrams", ax=ax, fig=fig,
                                width=12.0, height=4.5)
    agreement = float(cmp["agreement"])
    n = int(cmp["agrees"].size)
    text = f"agreement {agreement:.0%} ({int(cmp['agrees'].sum())} of {n} cells)"
    _draw(axes[0], pred, "predicted" + ("" if own else f"; {text}"))
    _draw(axes[1], meas, "measured")
    if own:
        fig.suptitle(f"phase diagrams ({_rule_text(pred)}): {text}", fontsize=10)
    return fig
