"""Figures for predictions: a path on the landscapes (Fig. 6a–c; `plot_path_1d` on a
landscape without m) and t vs γ (log-log).

Each returns a matplotlib `Figure` (see `reduced_dynamics.plot`); the CLI saves it. The
landscape argument of the path figures is what `analyze_path` takes: a Dataset
(`open_landscape`), a landscape file's path or a `PreparedLandscape`; the slice the path
ran on (its ``n_train`` coordinate) and its interpolant options (attributes ``interp_*``)
are selected from the path.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int
from reduced_dynamics.engine.options import InterpolantOptions
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape
from reduced_dynamics.engine.results import TIME_UNITS
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.names import BOUNDARY_LOSS
from reduced_dynamics.plot import panel_axes, plain_log_ticks
from reduced_dynamics.plot.landscape import status_counts

_POINT_STYLE = {"A": "o", "B": "s", "C": "D", "D": "^", "E": "*"}
Landscape = xr.Dataset | str | os.PathLike | PreparedLandscape


def _interp_options(path: xr.Dataset) -> InterpolantOptions | None:
    """The interpolant options a path was integrated with (its ``interp_*`` attributes)."""
    a = path.attrs
    try:
        return InterpolantOptions(transform=str(a["interp_transform"]),
                                  smoothing=float(a["interp_smoothing"]),
                                  monotone=bool(int(a["interp_monotone"])),
                                  derivatives=str(a["interp_derivatives"]))
    except (KeyError, TypeError, ValueError, InputError):
        return None


def _prepared(landscape: Landscape, path: xr.Dataset) -> PreparedLandscape:
    """The landscape slice ``path`` ran on, with the interpolant it used."""
    if not isinstance(path, xr.Dataset) or "w" not in path or "t" not in path:
        raise bad_value("path", type(path).__name__, "the Dataset `analyze_path` returns (one "
                        "densely recorded path: variables t, w, ...)")
    n = path["n_train"] if "n_train" in path.coords else None
    n_train = int(n) if n is not None and n.ndim == 0 else None
    return prepare_landscape(landscape, _interp_options(path), n_train=n_train)


def _grok_rule(path: xr.Dataset) -> tuple[str, float]:
    """(on, threshold) of the grokking event the path was integrated with."""
    a = path.attrs
    if a.get("event_grok_on") == "loss":
        try:
            return "loss", float(a["event_theta_test"])
        except (KeyError, TypeError, ValueError):
            return "loss", float("nan")
    return "acc", float(a.get("event_acc_threshold", 0.95))


def _short(prep: PreparedLandscape) -> str:
    """A landscape's name for a title: its file's name (not the machine's folders), or its
    task and preset when it came as a Dataset."""
    if prep.source.startswith("<"):
        a = prep.dataset.attrs
        return f"landscape {a.get('task', '?')} ({a.get('preset', '?')})"
    return os.path.basename(prep.source) or prep.source


# ----------------------------------------------------------------- labels that don't overlap
def _groups(names: list[str], xs: np.ndarray, ys: np.ndarray, tol: float
            ) -> list[tuple[str, int]]:
    """Points whose normalised positions lie within ``tol`` of a group's first point share
    one label "B=C"; returns (label, index of the group's first point) per group, in the
    order of first appearance."""
    groups: list[tuple[list[str], int]] = []
    for i, name in enumerate(names):
        for members, first in groups:
            if abs(xs[first] - xs[i]) <= tol and abs(ys[first] - ys[i]) <= tol:
                members.append(name)
                break
        else:
            groups.append(([name], i))
    return [("=".join(members), first) for members, first in groups]


def _normalised(v: np.ndarray, lo: float, hi: float, log: bool) -> np.ndarray:
    v, lo, hi = (np.log10(np.asarray(x, float)) if log else np.asarray(x, float)
                 for x in (v, lo, hi))
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


_OFFSETS = ((5, 5, "left", "bottom"), (5, -5, "left", "top"), (-5, 5, "right", "bottom"),
            (-5, -5, "right", "top"))


def label_points(ax: Any, names: list[str], x: np.ndarray, y: np.ndarray, *,
                 x_range: tuple[float, float], y_range: tuple[float, float],
                 log_x: bool = True, log_y: bool = False, color: str = "white") -> list[str]:
    """Label the path points (names, positions) on ``ax``: coincident points (within 1.5 %
    of the axis ranges) get one label "B=C", and a label next to an earlier one moves to
    another corner of its point. Returns the labels drawn."""
    ok = np.isfinite(x) & np.isfinite(y)
    if log_x:
        ok &= x > 0
    if log_y:
        ok &= y > 0
    names = [str(n) for n, k in zip(names, ok) if k]
    x, y = np.asarray(x, float)[ok], np.asarray(y, float)[ok]
    nx, ny = _normalised(x, *x_range, log_x), _normalised(y, *y_range, log_y)
    drawn: list[str] = []
    placed: list[int] = []
    for label, i in _groups(names, nx, ny, 0.015):
        near = sum(np.hypot(nx[i] - nx[j], ny[i] - ny[j]) < 0.08 for j in placed)
        dx, dy, ha, va = _OFFSETS[near % len(_OFFSETS)]
        ax.annotate(label, (x[i], y[i]), textcoords="offset points", xytext=(dx, dy),
                    ha=ha, va=va, color=color, fontsize=9, weight="bold")
        placed.append(i)
        drawn.append(label)
    return drawn


def _mark_points(ax: Any, path: xr.Dataset, *, labels: bool = True) -> int:
    """The points A–E of a path as dotted lines on a time axis (log t), labelled above the
    axes: points at one time share a label "B=C", and labels close in t are stacked.
    Returns the number of label rows (for the title's padding)."""
    t = path["t"].values
    t_pos = t[t > 0]
    names = [str(n) for n in path["point"].values]
    tp = path["t_point"].values.astype(float)
    ok = np.isfinite(tp) & (tp > 0)
    if not ok.any() or t_pos.size == 0:
        ax.set_xlabel(f"t [{TIME_UNITS}]", fontsize=8)
        return 0
    lo, hi = float(min(t_pos.min(), tp[ok].min())), float(max(t_pos.max(), tp[ok].max()))
    times = tp[ok]
    nt = _normalised(times, lo, hi, True)
    groups = _groups([n for n, k in zip(names, ok) if k], nt, np.zeros_like(nt), 1e-4)
    last_in_row: list[float] = []
    for label, i in sorted(groups, key=lambda g: nt[g[1]]):
        ax.axvline(times[i], color="grey", lw=0.8, ls=":")
        if not labels:
            continue
        row = next((r for r, last in enumerate(last_in_row) if nt[i] - last > 0.05),
                   len(last_in_row))
        if row == len(last_in_row):
            last_in_row.append(nt[i])
        last_in_row[row] = nt[i]
        ax.annotate(label, (times[i], 1.0), xycoords=ax.get_xaxis_transform(),
                    textcoords="offset points", xytext=(0, 2 + 11 * row), ha="center",
                    va="bottom", fontsize=8, annotation_clip=False)
    ax.set_xlabel(f"t [{TIME_UNITS}]", fontsize=8)
    return len(last_in_row)


def _accuracy_panel(ax: Any, prep: PreparedLandscape, path: xr.Dataset) -> int:
    """Test (and train) accuracy along the path against t, the grok threshold, and
    t_overfit / t_grok as vertical lines. Returns the label rows of the points."""
    t = path["t"].values
    ok = t > 0
    m = path["m"].values if "m" in path else np.zeros_like(t)
    along = prep.interp.evaluate_u(np.log(path["w"].values), m)
    ax.semilogx(t[ok], path["test_acc"].values[ok], color="C1", label="test accuracy")
    ax.semilogx(t[ok], along["train_acc"][ok], color="C0", ls="--", label="train accuracy")
    on, threshold = _grok_rule(path)
    if on == "acc" and np.isfinite(threshold):
        ax.axhline(threshold, color="C3", ls=":", lw=1.0,
                   label=f"grok: test_acc >= {threshold:g}")
    for name, color, ls in (("t_overfit", "grey", "-."), ("t_grok", "C3", "--")):
        v = float(path[name]) if name in path else float("nan")
        if np.isfinite(v) and v > 0:
            ax.axvline(v, color=color, ls=ls, lw=1.4, label=f"{name} = {v:.4g}")
    rows = _mark_points(ax, path)
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("reduced accuracy")
    t_grok = float(path["t_grok"]) if "t_grok" in path else float("nan")
    title = None if np.isfinite(t_grok) else f"no grok (status {path['status'].item()})"
    ax.legend(fontsize=7, loc="center left", title=title, title_fontsize=7)
    return rows


def _title_pad(rows: int) -> float:
    return 4.0 + 11.0 * rows


# ----------------------------------------------------------------------------- figures
def plot_path(landscape: Landscape, path: xr.Dataset, *, fig: Any = None, ax: Any = None,
              n_grid: int = 160) -> Any:
    """Train and test landscapes (log10 loss over alpha, m) with the path and A–E, the
    losses along the path against t, and the accuracies along it with t_grok (four panels,
    2 x 2; ``ax``: four Axes); returns the Figure. ``path``: the result of
    `analyze_path`; ``landscape``: what it was called with (a Dataset, a file path or a
    `PreparedLandscape`). A landscape without m gets `plot_path_1d`."""
    check_int("n_grid", n_grid, 2)
    prep = _prepared(landscape, path)
    if not prep.has_m:
        return plot_path_1d(prep, path, fig=fig, ax=ax)
    fig, axes, own = panel_axes(4, "a path on a (w, m) landscape (train and test loss "
                                "heatmaps, losses and accuracies along the path)", ax=ax,
                                fig=fig, width=13, height=9.5, nrows=2)
    it = prep.interp
    theta = float(path.attrs.get("event_theta_train", BOUNDARY_LOSS))
    u = np.linspace(it.ug[0], it.ug[-1], n_grid)
    m = np.linspace(it.mg[0], it.mg[-1], n_grid)
    uu, mm = np.meshgrid(u, m, indexing="xy")
    ev = it.evaluate_u(uu, mm)
    alpha = np.exp(u) / prep.w0
    path_alpha = path["w"].values / prep.w0
    pt_alpha = path["w_point"].values / prep.w0
    pt_m = path["m_point"].values
    names = [str(n) for n in path["point"].values]
    for ax, key, label in ((axes[0], "train_loss", "(a) train loss"),
                           (axes[1], "test_loss", "(b) test loss")):
        z = np.log10(np.maximum(ev[key], 1e-12))
        mesh = ax.pcolormesh(alpha, m, z, shading="auto", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=f"log10 {key}")
        ax.contour(alpha, m, ev["train_loss"], levels=[theta], colors="yellow",
                   linestyles="--", linewidths=1.2)
        ax.plot(path_alpha, path["m"].values, color="white", lw=1.6)
        for name, a, mv in zip(names, pt_alpha, pt_m):
            if np.isfinite(a) and np.isfinite(mv):
                ax.plot(a, mv, _POINT_STYLE.get(name, "o"), color="red", ms=8, mec="white")
        label_points(ax, names, pt_alpha, pt_m, x_range=(alpha[0], alpha[-1]),
                     y_range=(m[0], m[-1]))
        ax.set_xscale("log")
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("messiness m")
        ax.set_title(f"{label}; dashed: l_train = {theta:g}")
    ax = axes[2]
    t = path["t"].values
    ok = t > 0
    ax.loglog(t[ok], path["train_loss"].values[ok], label="train loss")
    ax.loglog(t[ok], path["test_loss"].values[ok], label="test loss")
    on, threshold = _grok_rule(path)
    if on == "loss" and np.isfinite(threshold):
        ax.axhline(threshold, color="C3", ls=":", lw=1.0,
                   label=f"grok: test_loss <= {threshold:g}")
    rows = _mark_points(ax, path)
    ax.set_ylabel("reduced loss")
    ax.set_title("(c) losses along the path", pad=_title_pad(rows))
    ax.legend(fontsize=8, title=f"{int(path['n_descents'])} test-loss descent(s)",
              title_fontsize=8)
    rows = _accuracy_panel(axes[3], prep, path)
    axes[3].set_title("(d) accuracies along the path", pad=_title_pad(rows))
    if own:
        fig.suptitle(_suptitle(path, prep), fontsize=10)
    return fig


def _suptitle(path: xr.Dataset, prep: PreparedLandscape) -> str:
    a = path.attrs
    n_text = f"n_train = {int(path['n_train'])}, " if "n_train" in path.coords else ""
    eta = (f"eta_d = {a['eta_d']:g}, eta_r = {a['eta_r']:g}" if prep.has_m
           else f"eta = {a['eta_d']:g}")
    return (f"{n_text}gamma = {a['gamma']:g}, {eta}, status {path['status'].item()}; "
            f"{_short(prep)}")


def plot_path_1d(landscape: Landscape, path: xr.Dataset, *, fig: Any = None, ax: Any = None,
                 n_grid: int = 200) -> Any:
    """One path on a landscape without m (1-D in w): (a) the reduced train and test loss
    against alpha (log-log) with the stretch the path covers and A–E, (b) the losses
    along the path against t with alpha on its own axis, (c) the accuracies along the
    path with t_grok. Returns the Figure (``fig``: draw into this one; ``ax``: three Axes).
    ``path``: the result of `analyze_path`; ``landscape`` as for `plot_path`."""
    check_int("n_grid", n_grid, 2)
    prep = _prepared(landscape, path)
    if prep.has_m:
        raise InputError(f"`landscape` {_short(prep)} has an m axis: `plot_path_1d` "
                         "draws paths on a landscape without m; use `plot_path`")
    created = fig is None and ax is None
    fig, (ax_l, ax_t, ax_a), own = panel_axes(
        3, "a path on a landscape without m (the landscape, losses and alpha along the "
        "path, accuracies)", ax=ax, fig=fig, width=17, height=4.6)
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
    names = [str(n) for n in path["point"].values]
    w_pt = path["w_point"].values.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pt_loss = it.evaluate_u(np.log(np.where(np.isfinite(w_pt), w_pt, prep.w0)),
                                np.zeros(w_pt.size))["train_loss"]
    pt_loss = np.where(np.isfinite(w_pt), pt_loss, np.nan)
    for name, w, lv in zip(names, w_pt, pt_loss):
        if np.isfinite(w):
            ax_l.plot(w / prep.w0, lv, _POINT_STYLE.get(name, "o"), color="red", ms=7)
    positive = ev["train_loss"][ev["train_loss"] > 0]
    y_range = ((float(positive.min()), float(positive.max())) if positive.size
               else (1e-12, 1.0))
    label_points(ax_l, names, w_pt / prep.w0, pt_loss, x_range=(alpha[0], alpha[-1]),
                 y_range=y_range, log_y=True, color="black")
    ax_l.set_xlabel(r"$\alpha = w / w_0$")
    ax_l.set_ylabel("reduced loss")
    ax_l.set_title("(a) the landscape and the path")
    ax_l.legend(fontsize=8)
    t = path["t"].values
    ok = t > 0
    ax_t.loglog(t[ok], path["train_loss"].values[ok], color="C0", label="train loss")
    ax_t.loglog(t[ok], path["test_loss"].values[ok], color="C1", label="test loss")
    on, threshold = _grok_rule(path)
    if on == "loss" and np.isfinite(threshold):
        ax_t.axhline(threshold, color="C3", ls=":", lw=1.0,
                     label=f"grok: test_loss <= {threshold:g}")
    ax_t.set_ylabel("reduced loss")
    ax_alpha = ax_t.twinx()
    ax_alpha.loglog(t[ok], pa[ok], "k-", lw=1.2, label=r"$\alpha = w / w_0$ (right axis)")
    ax_alpha.set_ylabel(r"$\alpha = w / w_0$")
    plain_log_ticks(ax_alpha.yaxis)
    rows = _mark_points(ax_t, path)
    handles, labels = ax_t.get_legend_handles_labels()
    more = ax_alpha.get_legend_handles_labels()
    ax_alpha.legend(handles + more[0], labels + more[1], fontsize=8, loc="lower left")
    ax_t.set_title("(b) losses and alpha along the path", pad=_title_pad(rows))
    rows = _accuracy_panel(ax_a, prep, path)
    ax_a.set_title("(c) accuracies along the path", pad=_title_pad(rows))
    if own:
        fig.suptitle(_suptitle(path, prep), fontsize=10)
    if created:
        fig.get_layout_engine().set(wspace=0.06)  # (b)'s right axis apart from (c)
    return fig


def _gamma_series(ax: Any, pred: xr.Dataset, *, color: str | None = None, prefix: str = "",
                  forms: bool = True) -> bool:
    """t_grok, t_overfit and (``forms``) the closed and geometric forms of one prediction
    over γ, and its fit; returns whether any path grokked. The closed and geometric forms
    are drawn only where the path overfits and groks (finite t_overfit and t_grok)."""
    g = pred["gamma"].values.astype(float)
    t_grok = pred["t_grok"].values.astype(float)
    t_over = pred["t_overfit"].values.astype(float)
    groks = np.isfinite(t_grok) & (t_grok > 0) & (g > 0)
    both = groks & np.isfinite(t_over)
    series = [("t_grok", "o-", "t_grok (integrated)", groks),
              ("t_overfit", "s-", "t_overfit", np.isfinite(t_over) & (t_over > 0) & (g > 0))]
    if forms:
        series += [("t_closed", "--", "closed form ln(w_C/w_c)/(eta_d gamma)", both),
                   ("t_geometric", ":", "geometric (L + h tan theta)/(eta_d gamma)", both)]
    for key, style, label, where in series:
        if key not in pred:
            continue
        y = pred[key].values.astype(float)
        ok = where & np.isfinite(y) & (y > 0)
        if ok.any():
            kw = {"color": color} if color is not None else {}
            if color is not None and key == "t_overfit":
                kw.update(alpha=0.5, ms=3)
            line = ax.plot(g[ok], y[ok], style, label=prefix + label, **kw)[0]
            line.set_gid(key)
    p = float(pred["exponent"]) if "exponent" in pred else float("nan")
    if np.isfinite(p) and groks.sum() >= 2:
        c = float(pred["intercept"])
        gg = np.geomspace(g[groks].min(), g[groks].max(), 50)
        se = float(pred["exponent_stderr"])
        se_text = f" ± {se:.3f}" if np.isfinite(se) else ""
        ax.plot(gg, np.exp(c) * gg**p, "-", lw=0.8, color=color or "k",
                label=f"{prefix}fit: t_grok ~ gamma^({p:.3f}{se_text})", gid="fit")
    never = ~groks & (g > 0)
    if never.any():  # one legend entry for all N (`plot_gamma`), grey crosses
        ax.plot(g[never], np.full(never.sum(), 0.02), "x", color="grey", ms=7,
                transform=ax.get_xaxis_transform(), clip_on=False, gid="no_grok",
                label="_no grok" if prefix else f"no grok ({int(never.sum())} gamma(s))")
    return bool(groks.any())


def plot_gamma(pred: xr.Dataset, *, ax: Any = None, fig: Any = None) -> Any:
    """t_grok, t_overfit, closed and geometric forms against γ (log-log), with the fitted
    power law, into ``ax`` (or ``fig``, or a new Figure); returns the Figure. ``pred``: the
    result of `predict_grokking_times` (with an ``n_train`` dim: t_grok and t_overfit per
    N). A path that never groks is drawn as a cross at the bottom ("no grok"), and the
    closed and geometric forms only where the path overfits and groks; when no path groks
    there is no fit and the axes say so, with the paths' statuses."""
    if not (isinstance(pred, xr.Dataset) and "gamma" in pred.dims and "t_grok" in pred):
        raise bad_value("pred", type(pred).__name__, "the Dataset `predict_grokking_times` "
                        "returns (dim gamma, variables t_grok, t_overfit, ...)")
    fig, (ax,), _ = panel_axes(1, "t against gamma", ax=ax, fig=fig, width=6.4, height=4.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if "n_train" in pred.dims:
        grokked = [_gamma_series(ax, pred.isel(n_train=i), color=f"C{i % 10}",
                                 prefix=f"N={int(n)}: ", forms=False)
                   for i, n in enumerate(pred["n_train"].values)]
        any_grok = any(grokked)
        never = [int(n) for n, k in zip(pred["n_train"].values, grokked) if not k]
        if any(line.get_gid() == "no_grok" for line in ax.lines):
            ax.plot([], [], "x", color="grey", ms=7, label="no grok" + (
                f" (at every gamma for N = {', '.join(map(str, never))})" if never else ""))
    else:
        any_grok = _gamma_series(ax, pred)
    if not any_grok:
        drawn = [line for line in ax.lines if line.get_gid() != "no_grok"]
        ax.text(0.5, 0.55, f"no path groks\n(statuses: {status_counts(pred['status'].values)})",
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
        g = pred["gamma"].values.astype(float)
        if (g > 0).any():
            ax.set_xlim(g[g > 0].min() / 1.5, g.max() * 1.5)
        if not drawn:  # nothing on the time axis: a neutral decade
            ax.set_ylim(1.0, 10.0)
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("weight decay gamma")
    ax.set_ylabel(f"t [{TIME_UNITS}]", fontsize=8)
    m_text = f", m = {pred.attrs['start_m']:g}" if "start_m" in pred.attrs else ""
    n_text = (f"n_train = {int(pred['n_train'])}, " if "n_train" in pred.coords
              and pred["n_train"].ndim == 0 else "")
    ax.set_title(f"{n_text}start alpha = {pred.attrs['start_alpha']:g}{m_text}; eta_d = "
                 f"{pred.attrs['eta_d']:g}", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return fig
