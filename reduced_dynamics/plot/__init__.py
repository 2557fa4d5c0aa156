"""Figures. Each function returns a matplotlib `Figure` and draws into the ``ax=`` it is
given (one Axes, or a sequence of as many Axes as the figure has panels), into the ``fig=``
it is given, or into a new `Figure`. With ``ax=`` the figure's title (``suptitle``) is left
alone; what it would say goes into the panel titles or is left out.

Figures are made with `matplotlib.figure.Figure`, not pyplot: no backend is selected, no
global state is touched, and a notebook keeps its own backend (``display(fig)`` shows
one). Nothing here writes files; the CLI saves figures (`io.atomic.write_figure`).
matplotlib is imported inside the functions, so importing this package costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from reduced_dynamics.errors import InputError


def new_figure(width: float, height: float) -> Any:
    """A pyplot-free `Figure` with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def plain_log_ticks(axis: Any) -> None:
    """Ticks at 1, 2 and 5 per decade labelled as plain numbers (0.2, 1, 5) on a log
    ``axis`` (``ax.yaxis``): over a decade or two, matplotlib labels one tick or none."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _given_axes(ax: Any) -> list[Any] | None:
    """``ax`` as a list of Axes: one Axes, or a sequence/array of them; None otherwise."""
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        return [ax]
    if isinstance(ax, (Sequence, np.ndarray)) and not isinstance(ax, str):
        flat = list(np.ravel(np.asarray(ax, dtype=object)))
        if flat and all(isinstance(a, Axes) for a in flat):
            return flat
    return None


def _describe_axes(ax: Any) -> str:
    axes = _given_axes(ax)
    if axes is None:
        return f"a {type(ax).__name__}"
    from matplotlib.axes import Axes

    return "one Axes" if isinstance(ax, Axes) else f"{len(axes)} Axes"


def panel_axes(n: int, what: str, *, ax: Any = None, fig: Any = None, width: float,
               height: float, nrows: int = 1, **kwargs: Any) -> tuple[Any, list[Any], bool]:
    """(figure, ``n`` axes, whether the figure is the function's to title) for a figure of
    ``n`` panels (``what`` names them in messages): the ``ax`` given (one Axes when
    ``n == 1``, else a sequence of ``n`` Axes of one figure), else ``nrows`` rows of panels
    in ``fig`` (a new figure when None); ``kwargs`` go to ``fig.subplots``."""
    if ax is None:
        fig = new_figure(width, height) if fig is None else fig
        ncols = -(-n // nrows)
        grid = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
        return fig, list(grid.ravel()[:n]), True
    axes = _given_axes(ax)
    example = "`ax=fig.subplots()`" if n == 1 else (
        f"`ax=fig.subplots({nrows}, {n // nrows})`" if nrows > 1 and n % nrows == 0
        else f"`ax=fig.subplots(1, {n})`")
    if axes is None or len(axes) != n:
        raise InputError(f"`ax`: {what} is drawn as {n} panel(s); pass {n} matplotlib Axes "
                         f"(e.g. {example}) or `fig=` (a Figure to draw into), got "
                         f"{_describe_axes(ax)}")
    figures = {id(a.figure) for a in axes}
    if len(figures) > 1:
        raise InputError(f"`ax`: the {n} Axes for {what} must belong to one figure; they "
                         f"belong to {len(figures)}")
    if fig is not None and fig is not axes[0].figure:
        raise InputError("`fig` and `ax` disagree: the Axes given belong to another figure; "
                         "pass one of them")
    return axes[0].figure, axes, False
