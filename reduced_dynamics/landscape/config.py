"""Configuration of the constrained-norm probe (SPEC §2, §3), torch-free."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.errors import InputError, bad_value

MAX_STEPS = 10**9  # optimiser steps: beyond this a command would run for years
SEED_MAX = 2**32 - 1  # numpy's legacy seeding and netCDF's int64 both hold this
MAX_SEEDS = 10_000  # seeds (restarts, runs) given as a count


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; refuses bools, floats and out-of-range values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise bad_value(name, value, "an integer")
    if value < low:
        raise bad_value(name, value, f">= {low}")
    if high is not None and value > high:
        raise bad_value(name, value, f"<= {high}")
    return int(value)


def check_real(name: str, value: object, *, low: float | None = None,
               low_open: bool = False, high: float | None = None,
               high_open: bool = False) -> float:
    """``value`` as a finite float within the given bounds (open or closed)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    x = float(value) if ok else math.nan
    ok = ok and math.isfinite(x)
    ok = ok and (low is None or (x > low if low_open else x >= low))
    ok = ok and (high is None or (x < high if high_open else x <= high))
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        rule = " and ".join(r for r in (lo, hi) if r)
        raise bad_value(name, value, f"a finite number {rule}".rstrip())
    return x


def check_seeds(name: str, seeds: Iterable[object]) -> tuple[int, ...]:
    """Seeds as ints in [0, 2**32 - 1] (what numpy and torch both accept)."""
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s <= SEED_MAX:
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
                         f"{dtype}), got {lr:g}")


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


@dataclass(frozen=True)
class ProbeConfig:
    """Adam on the sphere ``||theta|| = w``: step, then rescale back (Omnigrok Eq. 1)."""

    steps: int = 10_000  # full-batch optimiser steps per grid point
    lr: float = 1e-3  # Adam learning rate (at alpha = 1, see lr_scaling)
    beta1: float = 0.9
    beta2: float = 0.999
    # "constant"; "step": lr * lr_decay_factor every lr_decay_every steps (the authors'
    # notebook); "cosine": lr * (1 + cos(pi t / steps)) / 2, ending at 0 so the final point
    # is settled rather than an Adam oscillation.
    schedule: str = "constant"
    lr_decay_every: int = 0
    lr_decay_factor: float = 1.0
    # "alpha": lr * max(1, w / w0), the same angular step at every norm (Adam's steps are
    # absolute, so a fixed lr turns ever more slowly on a larger sphere); "constant": lr.
    lr_scaling: str = "constant"
    dtype: str = "float32"  # "float32" or "float64"
    # converged: |l(T) - l(0.9 T)| <= rel_change_tol * l(0.9 T) + abs_change_tol, and (for a
    # whole landscape) train loss <= (1 + monotone_tol) x its minimum over smaller w
    # + monotone_abs_tol.
    rel_change_tol: float = 0.01
    abs_change_tol: float = 1e-4
    monotone_tol: float = 0.1
    monotone_abs_tol: float = 1e-3  # losses this far below the 0.05 boundary count as equal
    chunk_size: int = 64  # members (grid points x seeds) per batched model
    # None: full batch. Else minibatches of this many training examples, each member
    # walking through epochs of its own training set in an order drawn from
    # (shuffle_seed, its init seed, epoch) (`reduced_dynamics.tasks.batches`).
    batch_size: int | None = None
    shuffle_seed: int = 0

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 10, MAX_STEPS)
        check_real("lr", self.lr, low=0.0, low_open=True)
        for name in ("beta1", "beta2"):
            check_real(name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        check_int("lr_decay_every", self.lr_decay_every, 0, MAX_STEPS)
        check_real("lr_decay_factor", self.lr_decay_factor, low=0.0, low_open=True)
        for name in ("rel_change_tol", "abs_change_tol", "monotone_tol", "monotone_abs_tol"):
            check_real(name, getattr(self, name), low=0.0)
        if self.schedule not in ("constant", "step", "cosine"):
            raise InputError(f"`schedule` must be 'constant', 'step' or 'cosine', got "
                             f"{self.schedule!r}")
        if self.schedule == "step" and self.lr_decay_every < 1:
            raise InputError(f"`lr_decay_every` must be >= 1 with schedule='step', got "
                             f"{self.lr_decay_every}")
        if self.lr_scaling not in ("constant", "alpha"):
            raise InputError(f"`lr_scaling` must be 'constant' or 'alpha', got {self.lr_scaling!r}")
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"`dtype` must be 'float32' or 'float64', got {self.dtype!r}")
        check_adam_lr("lr", self.lr, self.beta1, self.dtype)
        check_int("chunk_size", self.chunk_size, 1)
        if self.batch_size is not None:  # None: full batch
            check_int("batch_size", self.batch_size, 1)
        check_seeds("shuffle_seed", (self.shuffle_seed,))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PROBE_PRESETS: dict[str, ProbeConfig] = {
    # the shipped landscape's recipe (landscapes/README.md): with a constant rate the loss
    # still moves 40-100 % over the last 10 % of steps at alpha >= 3 (README)
    "paper": ProbeConfig(schedule="cosine", lr_scaling="alpha"),
    "notebook": ProbeConfig(steps=15_000, lr=1e-2, beta2=0.99, schedule="step", lr_decay_every=5000,
                            lr_decay_factor=0.2),
}
