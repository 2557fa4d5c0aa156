"""Parse grid specifications given on the command line.

A spec is either a comma list (``0,0.05,0.1``) or ``KIND:START:STOP:NUM`` with KIND one of
``lin`` (evenly spaced), ``log`` (log-spaced) or ``quad`` (``START + (STOP-START) s**2`` for
``s`` evenly spaced in [0, 1]: dense near START, the natural choice for m).
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.errors import InputError

KINDS = ("lin", "log", "quad")
MAX_VALUES = 100_000  # longest grid a spec may ask for (checked before allocating)


def _shown(spec: str, limit: int = 60) -> str:
    """``repr(spec)``, shortened in the middle when long (error messages stay one line)."""
    text = repr(spec)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2:]}"


def parse_grid(name: str, spec: str, *, max_values: int = MAX_VALUES) -> np.ndarray:
    """Return the sorted grid described by ``spec``; errors name the option ``name``.

    At most ``max_values`` values: a longer list or a larger NUM is refused before any
    array is allocated."""
    text = spec.strip()
    hint = "a comma list like '0,0.1,0.2' or KIND:START:STOP:NUM with KIND in lin, log, quad"
    too_many = (f"`{name}` asks for {{n}} values in {_shown(spec)}; at most {max_values} are "
                "allowed")
    try:
        if ":" in text:
            kind, start, stop, num = text.split(":")
            start_f, stop_f, n = float(start), float(stop), int(num)
            if kind not in KINDS:
                raise InputError(f"`{name}`: unknown grid kind {kind!r} in {_shown(spec)}; "
                                 f"use {hint}")
            if n < 1:
                raise InputError(f"`{name}`: NUM must be >= 1, got {n} in {_shown(spec)}")
            if n > max_values:
                raise InputError(too_many.format(n=n))
            if not (np.isfinite(start_f) and np.isfinite(stop_f)):
                raise InputError(f"`{name}`: START and STOP must be finite, got {_shown(spec)}")
            s = np.linspace(0.0, 1.0, n)
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                if kind == "lin":
                    values = start_f + (stop_f - start_f) * s
                elif kind == "quad":
                    values = start_f + (stop_f - start_f) * s**2
                else:
                    if start_f <= 0 or stop_f <= 0:
                        raise InputError(f"`{name}`: log grids need START, STOP > 0, got "
                                         f"{_shown(spec)}")
                    values = np.geomspace(start_f, stop_f, n)
        else:
            items = [v for v in text.split(",") if v.strip()]
            if len(items) > max_values:
                raise InputError(too_many.format(n=len(items)))
            values = np.array([float(v) for v in items], dtype=float)
    except InputError:
        raise
    except ValueError:
        raise InputError(f"`{name}` could not be read from {_shown(spec)}; use {hint}") from None
    if values.size == 0:
        raise InputError(f"`{name}` is empty ({_shown(spec)}); use {hint}")
    if not np.all(np.isfinite(values)):
        raise InputError(f"`{name}` must be finite numbers, got {_shown(spec)}")
    values = np.unique(values)
    return values


def parse_list(name: str, spec: str, *, minimum: float | None = None,
               max_values: int = MAX_VALUES) -> np.ndarray:
    """A grid that must also satisfy ``value >= minimum`` (e.g. gamma >= 0)."""
    values = parse_grid(name, spec, max_values=max_values)
    if minimum is not None and np.any(values < minimum):
        bad = values[values < minimum]
        raise InputError(f"`{name}` values must be >= {minimum:g}, got {bad.tolist()}")
    return values
