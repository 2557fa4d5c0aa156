"""Each path's status explained by the rest of its result (a check that can fail, unlike
"every status is one of the status names", which holds by construction)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def assert_statuses_explained(r: xr.Dataset, w_range: tuple[float, float]) -> None:
    """ok: grokked (inside the grid, or anywhere when the path stopped at t_grok);
    no_grok_before_t_max: no grok time, ended inside the grid at t_max or a
    stationary point; left_domain: ended on an edge of the grid's w range; max_steps: the step
    budget is spent (or the step underflowed) before t_max; overflow: never on these grids."""
    status = r.status.values.ravel()
    t_grok = r.t_grok.values.ravel()
    t_end = r.t_end.values.ravel()
    n_steps = r.n_steps.values.ravel()
    w_end = r.w_event.sel(event="end").values.ravel()
    w_lo, w_hi = w_range
    on_edge = np.isclose(w_end, w_lo, rtol=1e-9) | np.isclose(w_end, w_hi, rtol=1e-9)
    t_max, max_steps = r.attrs["t_max"], r.attrs["solver_max_steps"]
    for i, s in enumerate(status):
        where = f"path {i} ({s}): t_grok {t_grok[i]}, t_end {t_end[i]}, w_end {w_end[i]}"
        if s == "ok":
            assert np.isfinite(t_grok[i]) and (not on_edge[i] or t_end[i] == t_grok[i]), where
        elif s == "no_grok_before_t_max":
            assert np.isnan(t_grok[i]) and not on_edge[i] and t_end[i] <= t_max, where
        elif s == "left_domain":
            assert on_edge[i] and t_end[i] < t_max, where
        elif s == "max_steps":
            assert t_end[i] < t_max and n_steps[i] <= max_steps, where
        else:
            raise AssertionError(where)
