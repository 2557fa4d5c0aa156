"""Figures. Each function returns a matplotlib `Figure` and draws into the ``ax=`` (one
panel) or ``fig=`` (several panels) it is given, or into a new `Figure`.

Figures are made with `matplotlib.figure.Figure`, not pyplot: no backend is selected, no
global state is touched, and a notebook keeps its own backend (``display(fig)`` shows
one). Nothing here writes files; the CLI saves figures (`io.files.write_figure`).
matplotlib is imported inside the functions, so importing this package costs nothing.
"""

from __future__ import annotations

from typing import Any


def new_figure(width: float, height: float) -> Any:
    """A pyplot-free `Figure` with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def single_axes(ax: Any, width: float, height: float) -> tuple[Any, Any]:
    """(figure, axes): those of ``ax``, or a new one-panel figure when ``ax`` is None."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(width, height)
    return fig, fig.subplots()


def panels(fig: Any, ncols: int, width: float, height: float, **kwargs: Any
           ) -> tuple[Any, Any]:
    """(figure, axes array) of ``ncols`` panels in ``fig`` (a new figure when None)."""
    fig = new_figure(width, height) if fig is None else fig
    return fig, fig.subplots(1, ncols, squeeze=False, **kwargs)[0]
