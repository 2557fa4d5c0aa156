"""Figures of landscape files and of validation reports (see `reduced_dynamics.plot`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_real
from reduced_dynamics.errors import bad_value
from reduced_dynamics.names import BOUNDARY_LOSS
from reduced_dynamics.plot import panel_axes


def _log_norm(z: np.ndarray) -> Any:
    """A LogNorm over the finite positive range of ``z`` (never vmin >= vmax)."""
    from matplotlib.colors import LogNorm

    finite = z[np.isfinite(z)]
    lo = max(float(finite.min()), 1e-5) if finite.size else 1e-5
    hi = float(finite.max()) if finite.size else 1.0
    return LogNorm(vmin=lo, vmax=max(hi, lo * 10))


def _opened_landscape(ds: object) -> xr.Dataset:
    """A landscape Dataset, or the file a path names (opened and checked)."""
    if isinstance(ds, (str, os.PathLike)):
        from reduced_dynamics.io.landscape_file import open_landscape

        return open_landscape(ds)
    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", type(ds).__name__, "a landscape Dataset (`open_landscape`) or "
                        "the path of a landscape file")
    return ds


def plot_landscape(ds: xr.Dataset | str | os.PathLike, *, boundary: float = BOUNDARY_LOSS,
                   n_train: int | None = None, fig: Any = None, ax: Any = None) -> Any:
    """Heatmaps of reduced train and test loss over (log10 alpha, m), like Fig. 6a,b, and
    curves of both losses at four values of m; returns the Figure.

    The dashed line is the contour ``train_loss = boundary`` (regions I / II); hatched
    cells are points whose minimisation did not converge. A (w, m) landscape draws three
    panels (``ax=``: three Axes). Other grids: a (w, n_train) landscape gets `plot_n_train`
    (Fig. 3a,b, three panels), a 1-D one `plot_curves` (one Axes); ``n_train`` selects one
    N first (a grid value); a (w, m, n_train) one without it shows the largest N. ``ds``:
    what `open_landscape` returns, or a landscape file's path.
    """
    from reduced_dynamics.engine.parameters import n_train_values, select_n_train

    check_real("boundary", boundary, low=0.0, low_open=True,
               expected="a finite train loss > 0")
    if n_train is not None:
        check_int("n_train", n_train, None, expected="a training-set size of the landscape "
                  "(an integer) or None")  # its value: one on the grid (`select_n_train`)
    ds = _opened_landscape(ds)
    values = n_train_values(ds)
    if values and (n_train is not None or "m" in ds.dims):
        ds = select_n_train(ds, max(values) if n_train is None else n_train,
                            name="--n-train")
    elif n_train is not None:
        select_n_train(ds, n_train, name="--n-train")  # raises: no n_train axis
    if "n_train" in ds.dims:
        return plot_n_train(ds, boundary=boundary, fig=fig, ax=ax)
    if "m" not in ds.dims:
        return plot_curves(ds, ax=ax, fig=fig, boundary=boundary)
    alpha = ds["alpha"].values
    m = ds["m"].values
    fig, axes, own = panel_axes(3, "a (w, m) landscape (train and test loss heatmaps, loss "
                                "curves)", ax=ax, fig=fig, width=14, height=4.2)
    for ax, var, title in zip(axes, ("train_loss", "test_loss"),
                              (r"reduced train loss $\tilde l_{train}$",
                               r"reduced test loss $\tilde l_{test}$")):
        z = np.clip(ds[var].transpose("m", "w").values, 1e-6, None)
        mesh = ax.pcolormesh(alpha, m, z, norm=_log_norm(z), shading="nearest",
                             cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=var)
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
    ax.set_ylabel("reduced loss")
    ax.set_title("train (solid, L) and test (dashed, U)")
    ax.legend(fontsize=8)
    if own:
        n_text = (f"n_train = {int(ds['n_train'])} of {values}; " if "n_train" in ds.coords
                  else "")
        fig.suptitle(f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}); {n_text}dashed "
                     f"yellow: train loss = {boundary}; hatched: not converged", fontsize=10)
    return fig


def _title(ds: xr.Dataset) -> str:
    n_text = f", n_train = {int(ds['n_train'])}" if "n_train" in ds.coords and \
        ds["n_train"].ndim == 0 else ""
    return f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}){n_text}"


def plot_curves(ds: xr.Dataset, *, ax: Any = None, fig: Any = None,
                boundary: float = BOUNDARY_LOSS) -> Any:
    """A landscape without m (1-D in w, e.g. teacher-student or one N of a (w, n_train)
    landscape): reduced train (L) and test (U) loss against alpha, log-log, crosses on
    unconverged points; on a second y axis the reduced train and test accuracy with the
    task's grokking threshold (`engine.thresholds.grok_threshold_of`). Returns the Figure
    (``ax``: one Axes to draw into, ``fig``: a Figure)."""
    from reduced_dynamics.engine.thresholds import describe_grok, grok_threshold_of

    fig, (ax,), _ = panel_axes(1, "a landscape without m (loss and accuracy curves)", ax=ax,
                               fig=fig, width=6.2, height=4.2)
    alpha = ds["alpha"].values
    bad = ~ds["converged"].values
    for var, style, label in (("train_loss", "o-", "train (L)"),
                              ("test_loss", "s-", "test (U)")):
        y = ds[var].values
        line = ax.loglog(alpha, y, style, ms=3, label=label)[0]
        if bad.any():
            ax.loglog(alpha[bad], y[bad], "x", color=line.get_color(), ms=7)
    ax.axhline(boundary, color="grey", ls="--", lw=0.8, label=f"train loss = {boundary:g}")
    threshold, on, _ = grok_threshold_of(ds)
    if on == "loss":
        ax.axhline(threshold, color="C3", ls=":", lw=1.0,
                   label=f"grok: {describe_grok(threshold, on)}")
    ax.set_xlabel(r"$\alpha = w / w_0$")
    ax.set_ylabel("reduced loss")
    handles, labels = ax.get_legend_handles_labels()
    if "test_acc" in ds and "train_acc" in ds:
        acc = ax.twinx()
        for var, color, label in (("train_acc", "C0", "train accuracy (right)"),
                                  ("test_acc", "C1", "test accuracy (right)")):
            acc.semilogx(alpha, ds[var].values, ":", color=color, lw=1.4, label=label)
        if on == "acc":
            acc.axhline(threshold, color="C3", ls=":", lw=1.0,
                        label=f"grok: {describe_grok(threshold, on)} (right)")
        acc.set_ylim(-0.02, 1.05)
        acc.set_ylabel("reduced accuracy (dotted)")
        more = acc.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
        acc.legend(handles, labels, fontsize=7, loc="center right")
    else:
        ax.legend(fontsize=8)
    ax.set_title(_title(ds) + ("; x: not converged" if bad.any() else ""), fontsize=9)
    return fig


def _log_edges(x: np.ndarray) -> np.ndarray:
    """Cell edges of positive, increasing centres ``x`` at geometric midpoints."""
    lx = np.log(np.asarray(x, float))
    if lx.size == 1:
        return np.exp(np.array([lx[0] - 0.5, lx[0] + 0.5]))
    mid = 0.5 * (lx[1:] + lx[:-1])
    return np.exp(np.concatenate([[2 * lx[0] - mid[0]], mid, [2 * lx[-1] - mid[-1]]]))


def plot_n_train(ds: xr.Dataset, *, fig: Any = None, ax: Any = None,
                 boundary: float = BOUNDARY_LOSS, threshold: float | None = None) -> Any:
    """A (w, n_train) landscape like Fig. 3a,b: heatmaps over (alpha, N), both log-scaled,
    of (a) the reduced train loss with the contour ``train_loss = boundary``, (b) the test
    loss, (c) the test error 1 − test_acc with the contour test_acc = ``threshold`` (the
    file's grokking threshold by default) and the critical data size N_c (dashed); for a
    file whose threshold is a test loss (regression, e.g. molecules) (c) is the test loss
    with the contour test_loss = threshold. Hatched: not converged. Returns the Figure
    (``fig``: draw into this one; ``ax``: three Axes)."""
    from matplotlib.colors import LogNorm, Normalize

    from reduced_dynamics.engine.parameters import critical_n_train

    fig, axes, own = panel_axes(3, "a (w, n_train) landscape (train loss, test loss, test "
                                "error heatmaps)", ax=ax, fig=fig, width=15.5, height=4.4)
    from reduced_dynamics.engine.thresholds import grok_threshold_of

    on_loss = threshold is None and grok_threshold_of(ds)[1] == "loss"
    crit = critical_n_train(ds) if on_loss else critical_n_train(ds, threshold, on="acc")
    alpha, n = ds["alpha"].values, ds["n_train"].values.astype(float)
    xe, ye = _log_edges(alpha), _log_edges(n)
    unconv = ~ds["converged"].transpose("n_train", "w").values
    titles = (("train_loss", "(a) reduced train loss"), ("test_loss", "(b) reduced test loss"),
              ("test_err", f"(c) test error 1 - acc; white: acc = {crit.threshold:g}"))
    if on_loss:
        titles = (*titles[:2], ("test_thr", f"(c) test loss; white: {crit.threshold:g}"))
    bar_labels = {"train_loss": "train_loss", "test_loss": "test_loss",
                  "test_err": "1 - test_acc", "test_thr": "test_loss"}
    for ax, (var, title) in zip(axes, titles):
        if var == "test_err":
            z = 1.0 - ds["test_acc"].transpose("n_train", "w").values
            norm = Normalize(0.0, 1.0)
        else:
            z = ds[var if var != "test_thr" else "test_loss"].transpose("n_train", "w").values
            finite = z[np.isfinite(z) & (z > 0)]
            lo = max(float(finite.min()), 1e-8) if finite.size else 1e-8
            hi = max(float(finite.max()), lo * 10) if finite.size else 1.0
            z = np.clip(z, lo, None)
            norm = LogNorm(vmin=lo, vmax=hi)
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), norm=norm, cmap="viridis",
                             shading="flat")
        fig.colorbar(mesh, ax=ax, label=bar_labels[var])
        grid_2d = len(alpha) > 1 and len(n) > 1  # contours need at least 2 x 2 points
        if var == "train_loss" and grid_2d:
            ax.contour(alpha, n, z, levels=[boundary], colors="yellow", linestyles="--")
        if var in ("test_err", "test_thr"):
            acc = ds["test_acc" if var == "test_err" else "test_loss"].transpose(
                "n_train", "w").values
            if grid_2d and np.nanmin(acc) < crit.threshold <= np.nanmax(acc):
                ax.contour(alpha, n, acc, levels=[crit.threshold], colors="white")
            if crit.n_train is not None:
                ax.axhline(crit.n_train, color="red", ls="--", lw=1.2,
                           label=f"N_c = {crit.n_train}")
                ax.legend(fontsize=8, loc="upper right")
        if unconv.any() and grid_2d:
            ax.contourf(alpha, n, unconv.astype(float), levels=[0.5, 1.5], hatches=["//"],
                        colors="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _grid_ticks(ax, alpha, n)
        ax.set_xlabel(r"$\alpha = w / w_0$")
        ax.set_ylabel("training-set size N")
        ax.set_title(title, fontsize=10)
    if own:
        fig.suptitle(f"{_title(ds)}; dashed yellow: train loss = {boundary:g}; "
                     f"{crit.describe()}", fontsize=9)
    return fig


def _grid_ticks(ax: Any, x: np.ndarray, y: np.ndarray, most: int = 12) -> None:
    """Ticks at the grid values (every k-th when there are many), no minor labels: a log
    axis spanning less than a decade otherwise labels every minor tick on top of another."""
    from matplotlib.ticker import NullLocator

    for axis, values, rotation in ((ax.xaxis, x, 45), (ax.yaxis, y, 0)):
        shown = values[:: max(1, -(-len(values) // most))]
        axis.set_minor_locator(NullLocator())
        axis.set_ticks(shown, labels=[f"{v:.3g}" for v in shown])
        if rotation:
            ax.tick_params(axis="x", labelrotation=rotation)


def _exponent_text(p: float, se: float | None = None) -> str:
    """``exponent -0.91 ± 0.01``, or ``no fit`` when there is none."""
    if not np.isfinite(p):
        return "no fit"
    return f"exponent {p:.2f}" + (f" ± {se:.2f}" if se is not None and np.isfinite(se) else "")


def status_counts(status: np.ndarray) -> str:
    """``left_domain x3, ok x1``: how often each status occurs."""
    names, counts = np.unique(np.asarray(status).astype(str).ravel(), return_counts=True)
    return ", ".join(f"{n} x{c}" for n, c in zip(names, counts))


def _check_report(report: object) -> None:
    if not (isinstance(report, xr.Dataset) and "t_grok_measured" in report
            and "gamma" in report):
        raise bad_value("report", type(report).__name__, "the Dataset `validate` returns "
                        "(one row per run: gamma, t_grok_measured, t_grok_predicted, ...)")


def plot_t_grok_vs_gamma(report: xr.Dataset, *, ax: Any = None, fig: Any = None) -> Any:
    """Measured (points) and predicted (lines) t_grok and t_overfit against γ, log-log, from
    a `validate.validate` report; a predicted path that never groks draws nothing (text on
    the axes when none groks). Returns the Figure (``ax``: one Axes, ``fig``: a Figure)."""
    _check_report(report)
    fig, (ax,), _ = panel_axes(1, "t_grok against gamma", ax=ax, fig=fig, width=5.5,
                               height=4)
    gamma = report["gamma"].values
    order = np.argsort(gamma, kind="stable")
    a = report.attrs
    ax.loglog(gamma, report["t_grok_measured"].values, "o", color="C0",
              label="measured t_grok (" + _exponent_text(
                  float(a.get("exponent_measured", np.nan)),
                  float(a.get("exponent_measured_stderr", np.nan))) + ")")
    predicted = report["t_grok_predicted"].values.astype(float)[order]
    groks = np.isfinite(predicted) & (predicted > 0)
    if groks.any():
        ax.loglog(gamma[order][groks], predicted[groks], "-", color="C1",
                  label="predicted t_grok (" + _exponent_text(
                      float(a.get("exponent_predicted", np.nan))) + ")")
    ax.loglog(gamma, report["t_overfit_measured"].values, "x", color="C2",
              label="measured t_overfit")
    ax.loglog(gamma[order], report["t_overfit_predicted"].values[order], ":", color="C2",
              label="predicted t_overfit (gradient flow)")
    if not groks.any():
        statuses = (status_counts(report["status_predicted"].values)
                    if "status_predicted" in report else "unknown")
        ax.text(0.5, 0.5, f"no predicted path groks\n(statuses: {statuses})",
                transform=ax.transAxes, ha="center", va="center", fontsize=8, wrap=True)
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel("steps")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax.set_title("grokking time vs weight decay")
    return fig


def plot_validation_paths(report: xr.Dataset, landscape: xr.Dataset, *, fig: Any = None,
                          ax: Any = None) -> Any:
    """Measured (solid) and predicted (dashed) paths of a `validate.validate` report over the
    train and test landscapes (two panels; ``ax``: two Axes); for a 1-D landscape alpha(t)
    of each run (one panel; ``ax``: one Axes). Returns the Figure."""
    from matplotlib import colormaps

    _check_report(report)
    landscape = _opened_landscape(landscape)
    w0 = float(landscape.attrs["w0"])
    if "m" not in landscape.dims:
        fig, (ax,), _ = panel_axes(1, "paths over a landscape without m (alpha against t)",
                                   ax=ax, fig=fig, width=6.5, height=4.2)
        return _paths_1d(report, w0, ax)
    alpha = landscape["alpha"].values
    m = landscape["m"].values
    fig, axes, _ = panel_axes(2, "paths over a (w, m) landscape (train and test loss)", ax=ax,
                              fig=fig, width=13, height=4.6, sharey=True)
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

    fig = ax.figure
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
