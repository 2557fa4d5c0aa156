"""The argument checkers every config, the Python API and the CLI share: each refuses a
wrong type or value with one `InputError` naming the argument, the value given and what
would work (`check_int`, `check_real`, `check_sequence`, ...), and the limits they enforce.

A leaf: torch-free, importing nothing of the package but its exceptions.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np

from reduced_dynamics.errors import InputError, bad_value, shown

MAX_STEPS = 10**9  # optimiser steps: beyond this a command would run for years
SEED_MAX = 2**32 - 1  # numpy's legacy seeding and netCDF's int64 both hold this
MAX_SEEDS = 10_000  # seeds (restarts, runs) given as a count


def plain(value: object) -> object:
    """A numpy scalar as the Python number, bool or str it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def plain_fields(obj: object) -> None:
    """Replace numpy scalars in a frozen dataclass's fields by Python ones (`plain`), so a
    config written to a file as JSON (``config_json``) holds no ``np.int64``, and integer
    arithmetic on its fields cannot overflow."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.generic):
            object.__setattr__(obj, f.name, plain(value))


def _refuse(name: str, value: object, expected: str) -> InputError:
    return InputError(f"`{name}` must be {expected}, got {shown(value)}")


def is_int(value: object) -> bool:
    """An integer that is not a bool (True is not a count, a size or a seed)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral)


def is_real(value: object) -> bool:
    """A real number that is not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)


def check_int(name: str, value: object, low: int | None, high: int | None = None, *,
              expected: str | None = None) -> int:
    """``value`` as an int in [low, high] (None: unbounded); refuses bools, floats and
    out-of-range values. ``expected``: what the message says would work (default: the rule
    broken)."""
    if not is_int(value):
        rule = ("" if low is None else f" >= {low}") if high is None else (
            f" <= {high}" if low is None else f" from {low} to {high}")
        raise _refuse(name, value, expected or f"an integer{rule}")
    if low is not None and value < low:
        raise bad_value(name, value, expected or f">= {low}")
    if high is not None and value > high:
        raise bad_value(name, value, expected or f"<= {high}")
    return int(value)


def _real_rule(low: float | None, low_open: bool, high: float | None, high_open: bool) -> str:
    lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
    hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
    return " and ".join(r for r in (lo, hi) if r)


def _real_ok(value: object, low: float | None, low_open: bool, high: float | None,
             high_open: bool) -> bool:
    if not is_real(value):
        return False
    x = float(value)
    return (math.isfinite(x) and (low is None or (x > low if low_open else x >= low))
            and (high is None or (x < high if high_open else x <= high)))


def check_real(name: str, value: object, *, low: float | None = None,
               low_open: bool = False, high: float | None = None,
               high_open: bool = False, expected: str | None = None) -> float:
    """``value`` as a finite float within the given bounds (open or closed); refuses bools
    and strings. ``expected``: what the message says would work (default: the bounds)."""
    if not _real_ok(value, low, low_open, high, high_open):
        rule = _real_rule(low, low_open, high, high_open)
        raise bad_value(name, value, expected or f"a finite number {rule}".rstrip())
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool: True or False (numpy's too), not 0, 1 or a string."""
    if not isinstance(value, (bool, np.bool_)):
        raise _refuse(name, value, "True or False")
    return bool(value)


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value``, one of the strings ``choices``."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise _refuse(name, value, f"one of {choices}")
    return value


def check_str(name: str, value: object, expected: str = "a non-empty string") -> str:
    """``value``, a non-empty string."""
    if not isinstance(value, str) or not value:
        raise _refuse(name, value, expected)
    return value


def check_type(name: str, value: object, types: type | tuple[type, ...], expected: str,
               *, optional: bool = False) -> object:
    """``value`` when it is an instance of ``types`` (or None with ``optional``); the
    message says ``expected`` (e.g. "an EventOptions or None")."""
    if (optional and value is None) or isinstance(value, types):
        return value
    raise _refuse(name, value, expected)


def check_path(name: str, value: object, what: str = "file") -> str | os.PathLike:
    """``value``, a path: a non-empty ``str`` or an ``os.PathLike`` (``pathlib.Path``)."""
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value):
        return value
    raise _refuse(name, value, f"the path of a {what} (a str or a pathlib.Path)")


def check_sequence(name: str, value: object, expected: str, *, empty: bool = False,
                   item=None) -> tuple:
    """The items of ``value``, a list, tuple, range or 1-D numpy array (not a string, a
    set or a lone number), as a tuple (numpy scalars as Python ones, `plain`); non-empty
    unless ``empty``; each item passing ``item`` (a predicate) where given."""
    ok = (isinstance(value, np.ndarray) and value.ndim == 1) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes)))
    items = tuple(map(plain, value.tolist() if isinstance(value, np.ndarray) else value)
                  ) if ok else ()
    if not ok or (not empty and not items) or (item is not None and not all(map(item, items))):
        raise _refuse(name, value, expected)
    return items


def check_ints(name: str, value: object, low: int | None, high: int | None = None, *,
               expected: str | None = None, empty: bool = False) -> tuple[int, ...]:
    """``value``, a sequence (`check_sequence`) of ints in [low, high] (None: unbounded),
    as a tuple of ints."""
    rule = ("" if low is None else f" >= {low}") if high is None else (
        f" <= {high}" if low is None else f" from {low} to {high}")
    expected = expected or f"a {'' if empty else 'non-empty '}sequence of integers{rule}"
    items = check_sequence(name, value, expected, empty=empty, item=lambda v: is_int(v) and (
        (low is None or v >= low) and (high is None or v <= high)))
    return tuple(int(v) for v in items)


def check_reals(name: str, value: object, *, low: float | None = None,
                low_open: bool = False, high: float | None = None, high_open: bool = False,
                expected: str | None = None) -> tuple:
    """``value``, a non-empty sequence (`check_sequence`) of finite numbers within the
    bounds, as a tuple (of the numbers as given)."""
    rule = _real_rule(low, low_open, high, high_open)
    expected = expected or f"a non-empty sequence of finite numbers {rule}".rstrip()
    return check_sequence(name, value, expected,
                          item=lambda v: _real_ok(v, low, low_open, high, high_open))


def check_float_tuple(name: str, value: object, positive: bool) -> tuple[float, ...]:
    """A number or a sequence of numbers as a non-empty tuple of finite floats (> 0 where
    ``positive``, else >= 0); a string (a CLI spec) or a bool is refused."""
    check_numbers(name, value, "a number or a sequence of numbers")  # no str, no bool
    try:
        values = np.atleast_1d(np.asarray(value, dtype=float)).ravel().tolist()
    except (TypeError, ValueError):  # a ragged sequence
        raise _refuse(name, value, "a number or a sequence of numbers") from None
    bad = [v for v in values if not (np.isfinite(v) and (v > 0 if positive else v >= 0))]
    if not values or bad:
        raise _refuse(name, value, f"numbers {'> 0' if positive else '>= 0'}")
    return tuple(float(v) for v in values)


def check_numbers(name: str, value: object, expected: str) -> object:
    """``value`` unchanged when it is a number or a (nested) sequence or array of numbers;
    refuses strings, bools and None anywhere in it (the values are checked by whoever uses
    them)."""
    def numeric(v: object) -> bool:
        if isinstance(v, np.ndarray):
            return v.dtype.kind in "iuf" or (v.dtype == object and all(map(numeric, v.flat)))
        if isinstance(v, Sequence) and not isinstance(v, (str, bytes)):
            return all(numeric(x) for x in v)
        return is_real(v)

    if not numeric(value):
        raise _refuse(name, value, expected)
    return value


def check_sweep_options(output: object, *, resume: object, progress: object, history: object,
                        overwrite: object, executor: object) -> None:
    """The arguments a probe and a training sweep share (`probe`, `train`): ``output`` a
    path, the flags bools, ``history`` a str, ``executor`` None or an object with ``map``
    (`reduced_dynamics.executors`). (``device`` is checked where it is resolved,
    `batching.devices.resolve_device`.)"""
    check_path("output", output, "file to write")
    for name, value in (("resume", resume), ("progress", progress), ("overwrite", overwrite)):
        check_bool(name, value)
    check_type("history", history, str, "a str (a line for the file's `history`)")
    if executor is not None and not callable(getattr(executor, "map", None)):
        raise _refuse("executor", executor, "None (here, one chunk after another) or an "
                      "executor with a map method (`reduced_dynamics.executors`)")


def check_seed(name: str, value: object) -> int:
    """One seed: an int in [0, 2**32 - 1] (what numpy and torch both accept)."""
    return check_int(name, value, 0, SEED_MAX,
                     expected=f"an integer from 0 to 2**32 - 1 = {SEED_MAX}")


def check_seeds(name: str, seeds: Iterable[object]) -> tuple[int, ...]:
    """Seeds as ints in [0, 2**32 - 1] (what numpy and torch both accept)."""
    out = []
    for s in seeds:
        if not is_int(s) or not 0 <= s <= SEED_MAX:
            raise bad_value(name, s, f"integers from 0 to 2**32 - 1 = {SEED_MAX}")
        out.append(int(s))
    return tuple(out)


def check_adam_lr(name: str, lr: float, beta1: float, dtype: str) -> None:
    """Adam's first step has size lr / (1 - beta1) (bias correction), which torch converts
    to ``dtype``: refuse a rate for which that overflows."""
    limit = float(np.finfo(np.dtype(dtype)).max) * (1.0 - beta1)
    if not lr < limit:
        raise InputError(f"`{name}` must be below {limit:.3g} with dtype {dtype} and beta1 = "
                         f"{beta1:g} (Adam's first step {name} / (1 - beta1) must be a finite "
                         f"{dtype}), got {lr!r}")


def max_norm(dtype: str) -> float:
    """The largest weight norm w whose square is finite in ``dtype``: sqrt(finfo.max)."""
    return float(np.sqrt(np.finfo(np.dtype(dtype)).max))


def check_norms(name: str, values, dtype: str, *, scale: float = 1.0) -> None:
    """Refuse norms ``values * scale`` (e.g. alpha * w0) whose square overflows ``dtype``:
    ||theta||^2 = w^2 must be finite for the projection onto the sphere."""
    v = np.asarray(values, float)
    limit = max_norm(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.abs(v) * scale
    bad = v[~(w < limit)]
    if bad.size:
        how = "" if scale == 1.0 else f"w = {name.lstrip('-')} x w0 with w0 = {scale:.4g}, and "
        raise InputError(f"`{name}` must be below {limit / scale:.3g} with dtype {dtype} "
                         f"({how}w^2 = ||theta||^2 must be finite), got {bad[0]:g}")
