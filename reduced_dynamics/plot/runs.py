"""The grokking figure of a trajectory (runs) file: accuracy, loss and norm against steps.

One row of three panels per group of runs: the runs are coloured by one setting (``by``:
by default the one with most distinct values, a seed last), and each other combination of
varying settings but the seed gets its own row (seeds share their setting's colour). t_grok
is recomputed at the task's grokking threshold, as `reduced-dynamics info` does
(`engine.thresholds`); diverged runs are drawn up to their ``diverged_step``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from reduced_dynamics.checks import check_int, check_type
from reduced_dynamics.engine.thresholds import describe_grok, grok_threshold_of, grok_times
from reduced_dynamics.errors import InputError, bad_value
from reduced_dynamics.names import RunStatus
from reduced_dynamics.plot import panel_axes, plain_log_ticks

SETTINGS = ("gamma", "n_train", "alpha0", "m0", "eta_d", "eta_r", "seed")  # per-run coords
MAX_ROWS = 4  # rows of panels drawn; further groups are left out, and the title says so


def _opened_runs(runs: object) -> xr.Dataset:
    """A trajectory Dataset, or the file a path names (opened and checked)."""
    if isinstance(runs, (str, os.PathLike)):
        from reduced_dynamics.io.trajectory_file import open_trajectories

        return open_trajectories(runs)
    if not isinstance(runs, xr.Dataset) or "run" not in runs.dims or "step" not in runs.dims:
        raise bad_value("runs", type(runs).__name__, "a trajectory Dataset "
                        "(`open_trajectories`, dims run and step) or the path of a runs file")
    return runs


def _settings(ds: xr.Dataset) -> list[str]:
    return [k for k in SETTINGS if k in ds.coords and ds[k].dims == ("run",)]


def varying_settings(ds: xr.Dataset) -> list[str]:
    """The per-run settings (`SETTINGS`) that take more than one value in ``ds``."""
    return [k for k in _settings(ds) if np.unique(ds[k].values).size > 1]


def _colour_setting(ds: xr.Dataset, by: str | None) -> str | None:
    settings = _settings(ds)
    if by is not None:
        if by not in settings:
            raise bad_value("by", by, f"one of the runs' settings {settings}")
        return by
    varying = varying_settings(ds)
    if not varying:
        return None
    return max(varying, key=lambda k: (k != "seed", np.unique(ds[k].values).size,
                                       -SETTINGS.index(k)))


def _value_text(name: str, value: object) -> str:
    if name in ("seed", "n_train"):
        return f"{name} = {int(value)}"
    return f"{name} = {float(value):g}"


def _select_n_train(ds: xr.Dataset, n_train: int | None) -> xr.Dataset:
    if n_train is None:
        return ds
    if "n_train" not in ds.coords:
        raise InputError(f"`--n-train` (n_train) = {n_train!r}: this runs file has no "
                         "n_train coordinate (every run uses the task's whole training set); "
                         "drop it")
    values = sorted(int(v) for v in np.unique(ds["n_train"].values))
    try:
        n = float(n_train)
    except (TypeError, ValueError):
        n = float("nan")
    if n not in values:
        raise bad_value("--n-train", n_train, f"one of the runs' training-set sizes {values}")
    return ds.isel(run=np.flatnonzero(ds["n_train"].values == n))


def _groups(ds: xr.Dataset, keys: list[str]) -> list[tuple[tuple, np.ndarray]]:
    """(values of ``keys``, run indices) per distinct combination, in sorted order."""
    if not keys:
        return [((), np.arange(ds.sizes["run"]))]
    table = np.column_stack([ds[k].values.astype(float) for k in keys])
    combos = np.unique(table, axis=0)
    return [(tuple(c), np.flatnonzero((table == c).all(axis=1))) for c in combos]


def _first_positive(step: np.ndarray, t: float) -> float:
    """``t`` on a log step axis: a time 0 is drawn at the first logged step > 0."""
    positive = step[step > 0]
    return max(t, float(positive[0])) if positive.size else t


def plot_runs(runs: xr.Dataset | str | os.PathLike, *, by: str | None = None,
              n_train: int | None = None, max_rows: int = MAX_ROWS, fig: Any = None,
              ax: Any = None) -> Any:
    """Train (dashed) and test (solid) accuracy, the losses, and the norm alpha = w/w0
    against steps (log), one row of three panels per group of runs; returns the Figure.

    ``runs``: what `open_trajectories` returns, or a runs file's path. ``by``: the setting
    that colours the runs (gamma, n_train, alpha0, m0, eta_d, eta_r, seed; default: the
    one with most values, seeds last); each combination of the other varying settings,
    seeds apart, is a row, at most ``max_rows`` of them (the title says how many are left
    out). ``n_train``: draw only the runs of that training-set size. Circles mark t_grok
    (first logged step at the task's grokking threshold, the dotted line) on the test
    accuracy and the norm, triangles t_overfit on the train accuracy, crosses a divergence.
    ``ax``: three Axes per row drawn; ``fig``: a Figure to draw into.
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    check_int("max_rows", max_rows, 1)
    if by is not None:
        check_type("by", by, str, "a setting's name (gamma, n_train, alpha0, m0, eta_d, "
                   "eta_r, seed) or None")
    if n_train is not None:
        check_int("n_train", n_train, None, expected="a training-set size of the runs (an "
                  "integer) or None")  # its value: one of the runs' (`_select_n_train`)
    ds = _select_n_train(_opened_runs(runs), n_train)
    colour = _colour_setting(ds, by)
    rows_by = [k for k in varying_settings(ds) if k not in (colour, "seed")]
    groups = _groups(ds, rows_by)
    shown = groups[:max_rows]
    n_rows = len(shown)
    fig, axes, own = panel_axes(3 * n_rows, f"{n_rows} row(s) of runs (accuracy, loss and "
                                "norm per row)", ax=ax, fig=fig, width=15,
                                height=0.9 + 3.0 * n_rows, nrows=n_rows, sharex=True)
    step = ds["step"].values
    x = step > 0
    threshold, on, _ = grok_threshold_of(ds)
    t_grok = grok_times(step, ds["test_acc"].values, ds["test_loss"].values, threshold, on)
    t_over = ds["t_overfit"].values.astype(float)
    w0 = float(ds.attrs.get("w0", np.nan))
    scale = w0 if np.isfinite(w0) and w0 > 0 else 1.0
    diverged = (ds["status"].values == RunStatus.DIVERGED if "status" in ds.data_vars
                else np.zeros(ds.sizes["run"], bool))
    values = np.unique(ds[colour].values) if colour else np.arange(ds.sizes["run"])
    cmap = colormaps["viridis"]
    colours = {v: cmap(0.9 * i / max(len(values) - 1, 1)) for i, v in enumerate(values)}
    previous: list[str] = []
    for row, (key, members) in enumerate(shown):
        ax_acc, ax_loss, ax_w = axes[3 * row: 3 * row + 3]
        legend: dict[str, Any] = {}
        for r in members:
            run = ds.isel(run=r)
            v = run[colour].item() if colour else r
            c = colours[v]
            label = _value_text(colour, v) if colour else f"run {r}"
            ax_acc.semilogx(step[x], run["test_acc"].values[x], "-", color=c, lw=1.3)
            ax_acc.semilogx(step[x], run["train_acc"].values[x], "--", color=c, lw=1.0)
            ax_loss.loglog(step[x], run["test_loss"].values[x], "-", color=c, lw=1.3)
            ax_loss.loglog(step[x], run["train_loss"].values[x], "--", color=c, lw=1.0)
            alpha = run["w"].values / scale
            ax_w.semilogx(step[x], alpha[x], "-", color=c, lw=1.3)
            if np.isfinite(t_grok[r]):
                k = int(np.searchsorted(step, t_grok[r]))
                at = _first_positive(step, float(t_grok[r]))
                ax_acc.plot([at], [run["test_acc"].values[k]], "o", color=c, mec="k", ms=6,
                            gid="t_grok")
                ax_w.plot([at], [alpha[k]], "o", color=c, mec="k", ms=6, gid="t_grok")
            if np.isfinite(t_over[r]):
                k = min(int(np.searchsorted(step, t_over[r])), step.size - 1)
                ax_acc.plot([_first_positive(step, float(t_over[r]))],
                            [run["train_acc"].values[k]], "^", color=c, mec="k", ms=5,
                            gid="t_overfit")
            if diverged[r]:
                finite = np.flatnonzero(np.isfinite(run["test_loss"].values) & x)
                if finite.size:
                    ax_loss.plot(step[finite[-1]], run["test_loss"].values[finite[-1]], "X",
                                 color=c, mec="k", ms=8, gid="diverged")
                label += " (diverged)" if "diverged" not in label else ""
            legend.setdefault(label, Line2D([], [], color=c, lw=2))
        if on == "acc":
            ax_acc.axhline(threshold, color="grey", ls=":", lw=1.0)
        else:
            ax_loss.axhline(threshold, color="grey", ls=":", lw=1.0)
        row_text = ", ".join(_value_text(k, v) for k, v in zip(rows_by, key))
        prefix = f"{row_text}: " if row_text else ""
        ax_acc.set_title(f"{prefix}accuracy", fontsize=10)
        ax_loss.set_title(f"{prefix}loss", fontsize=10)
        ax_w.set_title(f"{prefix}norm", fontsize=10)
        ax_acc.set_ylim(-0.02, 1.05)
        ax_acc.set_ylabel("accuracy")
        ax_loss.set_ylabel("loss")
        ax_w.set_ylabel(r"$\alpha = w / w_0$" if scale != 1.0 else "w (w0 unknown)")
        _norm_scale(ax_w, ds["w"].values[members][:, x] / scale)
        if row == 0 or list(legend) != previous:  # the same colours as the row above: once
            # outside the panels, the line styles and markers below the colours (in row 0):
            # no corner of the accuracy panel is always empty
            handles, labels = list(legend.values()), list(legend)
            if row == 0:
                style = _style_handles(on, threshold)
                handles += [Line2D([], [], ls=""), *style]
                labels += ["", *(h.get_label() for h in style)]
            ax_w.legend(handles, labels, fontsize=7, loc="upper left",
                        bbox_to_anchor=(1.02, 1.0), ncol=1 if len(legend) <= 12 else 2,
                        title=colour, title_fontsize=7)
        previous = list(legend)
    for a in axes[-3:]:
        a.set_xlabel("step")
    if own:
        seeds_together = colour != "seed" and "seed" in varying_settings(ds)
        left_out = (f"; showing {n_rows} of {len(groups)} rows ({', '.join(rows_by)}): pass "
                    "max_rows or select runs (--n-train)" if len(groups) > n_rows else "")
        fig.suptitle(f"{ds.attrs.get('task')} ({ds.attrs.get('preset')}): "
                     f"{ds.sizes['run']} runs; colour: {colour or 'run'}"
                     + (f", rows: {', '.join(rows_by)}" if rows_by else "")
                     + ("; seeds share a colour" if seeds_together else "")
                     + f"; grok: {describe_grok(threshold, on)}{left_out}", fontsize=10)
    return fig


def _norm_scale(ax: Any, alpha: np.ndarray) -> None:
    """A log norm axis (plain tick labels) when the norms span more than a decade; else a
    linear one."""
    finite = alpha[np.isfinite(alpha) & (alpha > 0)]
    if finite.size and finite.max() / finite.min() > 10:
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)


def _style_handles(on: str, threshold: float) -> list[Any]:
    """Legend entries for the line styles and markers (the colours have their own)."""
    from matplotlib.lines import Line2D

    grey = "0.35"
    where = "accuracy" if on == "acc" else "loss"
    return [Line2D([], [], color=grey, ls="-", label="test"),
            Line2D([], [], color=grey, ls="--", label="train"),
            Line2D([], [], color=grey, ls="", marker="o", mec="k", label="t_grok"),
            Line2D([], [], color=grey, ls="", marker="^", mec="k", label="t_overfit"),
            Line2D([], [], color="grey", ls=":", label=f"grok threshold\n({where}: "
                   + describe_grok(threshold, on) + ")")]
