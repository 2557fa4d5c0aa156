"""Configuration of the probe (SPEC §2, §3) and of full training runs (SPEC §6, §13), with
the validators every config and the CLI share (`check_int`, `check_real`, ...).

A leaf: torch-free, and it imports nothing of the package but its exceptions
(`reduced_dynamics.errors`), so tasks, the probe, the trainer and the CLI can all import it
without importing each other.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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


def _is_int(value: object) -> bool:
    """An integer that is not a bool (True is not a count, a size or a seed)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral)


def _is_real(value: object) -> bool:
    """A real number that is not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Real)


def check_int(name: str, value: object, low: int | None, high: int | None = None, *,
              expected: str | None = None) -> int:
    """``value`` as an int in [low, high] (None: unbounded); refuses bools, floats and
    out-of-range values. ``expected``: what the message says would work (default: the rule
    broken)."""
    if not _is_int(value):
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
    if not _is_real(value):
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
    items = check_sequence(name, value, expected, empty=empty, item=lambda v: _is_int(v) and (
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


def check_numbers(name: str, value: object, expected: str) -> object:
    """``value`` unchanged when it is a number or a (nested) sequence or array of numbers;
    refuses strings, bools and None anywhere in it (the values are checked by whoever uses
    them)."""
    def numeric(v: object) -> bool:
        if isinstance(v, np.ndarray):
            return v.dtype.kind in "iuf" or (v.dtype == object and all(map(numeric, v.flat)))
        if isinstance(v, Sequence) and not isinstance(v, (str, bytes)):
            return all(numeric(x) for x in v)
        return _is_real(v)

    if not numeric(value):
        raise _refuse(name, value, expected)
    return value


def check_sweep_options(output: object, *, resume: object, progress: object, history: object,
                        overwrite: object, executor: object) -> None:
    """The arguments a probe and a training sweep share (`probe`, `train`): ``output`` a
    path, the flags bools, ``history`` a str, ``executor`` None or an object with ``map``
    (`reduced_dynamics.executors`). (``device`` is checked where it is resolved,
    `models.batched.resolve_device`.)"""
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
        if not _is_int(s) or not 0 <= s <= SEED_MAX:
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


DTYPES = ("float32", "float64")
SCHEDULES = ("constant", "step", "cosine")  # `ProbeConfig.schedule`
LR_SCALINGS = ("constant", "alpha")  # `ProbeConfig.lr_scaling`


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
        plain_fields(self)  # numpy scalars as Python ones
        check_int("steps", self.steps, 10, MAX_STEPS)
        check_real("lr", self.lr, low=0.0, low_open=True)
        for name in ("beta1", "beta2"):
            check_real(name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        check_int("lr_decay_every", self.lr_decay_every, 0, MAX_STEPS)
        check_real("lr_decay_factor", self.lr_decay_factor, low=0.0, low_open=True)
        for name in ("rel_change_tol", "abs_change_tol", "monotone_tol", "monotone_abs_tol"):
            check_real(name, getattr(self, name), low=0.0)
        check_choice("schedule", self.schedule, SCHEDULES)
        if self.schedule == "step" and self.lr_decay_every < 1:
            raise InputError(f"`lr_decay_every` must be >= 1 with schedule='step', got "
                             f"{self.lr_decay_every}")
        check_choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        check_choice("dtype", self.dtype, DTYPES)
        check_adam_lr("lr", self.lr, self.beta1, self.dtype)
        check_int("chunk_size", self.chunk_size, 1)
        if self.batch_size is not None:  # None: full batch
            check_int("batch_size", self.batch_size, 1)
        check_seeds("shuffle_seed", (self.shuffle_seed,))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


MAX_N_LOG = 100_000  # logged steps per run: 7 float64 series of this length per run


OPTIMIZERS = ("adamw", "adam", "sgd")  # SPEC §13; `training.optimizers`


@dataclass(frozen=True)
class TrainConfig:
    """AdamW (or Adam, or gradient descent) on decoder (lr eta_d, weight decay gamma) and
    representation (lr eta_r); a `RunSet` may give each run its own eta_d and eta_r."""

    steps: int = 30_000
    eta_d: float = 1e-3  # decoder learning rate
    eta_r: float = 1e-3  # representation learning rate (0: frozen; unused without m)
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    wd_representation: bool = False  # also decay the representation (off, SPEC §6)
    n_log: int = 240  # log-spaced logging steps (plus step 0)
    dtype: str = "float32"
    checkpoint_every: int = 5_000  # steps between saved checkpoints (resume point)
    # None: full batch. Else minibatches of this many training examples per step, each run
    # in its own epoch order from (shuffle_seed, its seed, epoch) (`tasks.batches`).
    batch_size: int | None = None
    shuffle_seed: int = 0
    # Fig. 7b ("de-grokking"): after every step, rescale theta back to its initial norm
    # alpha0 w0. Weight decay is then meaningless: runs with gamma != 0 are refused.
    constrain_norm: bool = False
    # Linear warm-up of both learning rates (and so of the decoupled decay eta gamma) over
    # the first steps: factor min(t / warmup_steps, 1) at step t (Nanda et al.'s schedule,
    # so step 0 does not move). 0: none.
    warmup_steps: int = 0
    # "adamw": theta (1 - eta gamma) - eta Adam(grad) (the paper's); "adam": Adam(grad +
    # gamma theta); "sgd": theta - eta (grad + gamma theta), full batch = gradient descent,
    # the reduced ODE's own clock (SPEC §13); momentum only with sgd (0: none).
    optimizer: str = "adamw"
    momentum: float = 0.0

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_int("steps", self.steps, 1, MAX_STEPS)
        check_int("n_log", self.n_log, 1, MAX_N_LOG)
        if self.n_log > self.steps:
            raise InputError(f"`n_log` must be <= `steps` = {self.steps} (one logged step "
                             f"at most per optimiser step), got {self.n_log}")
        check_int("checkpoint_every", self.checkpoint_every, 1)
        check_real("eta_d", self.eta_d, low=0.0, low_open=True)
        check_real("eta_r", self.eta_r, low=0.0)
        for name in ("beta1", "beta2"):
            check_real(name, getattr(self, name), low=0.0, high=1.0, high_open=True)
        check_real("eps", self.eps, low=0.0, low_open=True)
        check_choice("dtype", self.dtype, DTYPES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_bool("wd_representation", self.wd_representation)
        check_bool("constrain_norm", self.constrain_norm)
        self.check_rates("eta_d", (self.eta_d,))
        self.check_rates("eta_r", (self.eta_r,))
        if self.batch_size is not None:  # None: full batch
            check_int("batch_size", self.batch_size, 1)
        check_seeds("shuffle_seed", (self.shuffle_seed,))
        check_int("warmup_steps", self.warmup_steps, 0, self.steps)
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        if self.momentum != 0 and self.optimizer != "sgd":
            raise InputError(f"`momentum` is the heavy-ball momentum of sgd; {self.optimizer} "
                             f"has its own (beta1): drop it, got {self.momentum:g}")

    def check_rates(self, name: str, rates: tuple[float, ...]) -> None:
        """Learning rates this optimiser can use: Adam's first step (lr / (1 - beta1))
        must be finite in the run's dtype."""
        if self.optimizer == "sgd":
            return
        for rate in set(rates):
            check_adam_lr(name, rate, self.beta1, self.dtype)

    def lr_factor(self, step: int) -> float:
        """The warm-up factor of the learning rates at ``step`` (1 without warm-up)."""
        return 1.0 if self.warmup_steps == 0 else min(step / self.warmup_steps, 1.0)

    def check_runs(self, runs: RunSet) -> None:
        """Refuse runs this configuration cannot train: weight decay with constrain_norm,
        per-run rates Adam cannot take."""
        if runs.eta_d is not None:
            self.check_rates("eta_d", runs.eta_d)
        if runs.eta_r is not None:
            self.check_rates("eta_r", runs.eta_r)
        if self.constrain_norm and any(g != 0 for g in runs.gamma):
            raise InputError(f"`constrain_norm` keeps ||theta|| at alpha0 w0, so weight decay "
                             f"has no effect: `gamma` must be 0, got {sorted(set(runs.gamma))} "
                             "(--gamma 0)")

    def check_decay(self, runs: RunSet) -> None:
        """AdamW multiplies the decayed weights by 1 - eta gamma every step: refuse
        eta gamma >= 1 (the factor would be <= 0, flipping or zeroing every weight)."""
        names = ["eta_d", "eta_r"] if self.wd_representation else ["eta_d"]
        for name in names:
            etas = runs.rates(name, getattr(self, name))
            products = [e * g for e, g in zip(etas, runs.gamma)]
            worst = max(range(len(products)), key=products.__getitem__)
            eta, gamma = etas[worst], runs.gamma[worst]
            if not products[worst] < 1:
                raise InputError(f"`gamma` x `{name}` must be < 1 (the weights shrink by "
                                 f"1 - {name} gamma at every step), got gamma = {gamma:g} "
                                 f"with {name} = {eta:g}; use gamma < {1 / eta:g}")

    def log_steps(self) -> np.ndarray:
        """0 and ``n_log`` log-spaced steps up to ``steps`` (unique integers)."""
        grid = np.unique(np.round(np.geomspace(1, self.steps, self.n_log)).astype(np.int64))
        return np.concatenate([[0], grid])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunSet:
    """The runs of one batched model: one entry per run."""

    gamma: tuple[float, ...]
    seed: tuple[int, ...]
    alpha0: tuple[float, ...]
    m0: tuple[float, ...]
    # Training-set size per run (SPEC §11: the task's nested subsets); None: the task's
    # whole training set for every run.
    n_train: tuple[int, ...] | None = None
    # Learning rates per run (an eta x gamma grid is one batched model, SPEC §13, §15);
    # None: the TrainConfig's eta_d / eta_r for every run.
    eta_d: tuple[float, ...] | None = None
    eta_r: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        # every column a sequence (stored as a tuple), one value per run, each checked
        columns = ("gamma", "seed", "alpha0", "m0", "n_train", "eta_d", "eta_r")
        for name in columns:
            value = getattr(self, name)
            if value is not None or name in columns[:4]:
                object.__setattr__(self, name, check_sequence(
                    name, value, "a sequence with one value per run" + (
                        "" if name in columns[:4] else ", or None")))
        n = len(self.gamma)
        if n == 0:
            raise InputError("`gamma` must be a non-empty sequence (a run set needs equally "
                             "long, non-empty gamma/seed/alpha0/m0), got ()")
        for name in columns[1:4]:
            if len(getattr(self, name)) != n:
                raise InputError(f"`{name}` must have one value per run, as `gamma` has "
                                 f"({n}; a run set needs equally long, non-empty gamma/seed/"
                                 f"alpha0/m0), got {len(getattr(self, name))}: "
                                 f"{shown(getattr(self, name))}")
        if self.n_train is not None:
            if len(self.n_train) != n:
                raise InputError(f"`n_train` needs one size per run ({n}), got "
                                 f"{len(self.n_train)}")
            for size in self.n_train:
                check_int("n_train", size, 1)
        for name in ("eta_d", "eta_r"):
            rates = getattr(self, name)
            if rates is None:
                continue
            if len(rates) != n:
                raise InputError(f"`{name}` needs one learning rate per run ({n}), got "
                                 f"{len(rates)}")
            for rate in rates:
                check_real(name, rate, low=0.0, low_open=name == "eta_d")
        for g in self.gamma:
            check_real("gamma", g, low=0.0)
        for a in self.alpha0:
            check_real("alpha0", a, low=0.0, low_open=True)
        for m in self.m0:
            check_real("m0", m, low=0.0, high=1.0)
        check_seeds("seed", self.seed)

    def __len__(self) -> int:
        return len(self.gamma)

    def rates(self, name: str, default: float) -> tuple[float, ...]:
        """Each run's ``eta_d`` or ``eta_r``: its own, else ``default``."""
        own = getattr(self, name)
        return tuple(float(r) for r in own) if own is not None else (float(default),) * len(self)

    @classmethod
    def sweep(cls, gammas, seeds, alpha0s, m0s, n_trains=None, eta_ds=None,
              eta_rs=None) -> RunSet:
        """Every combination, eta_d varying slowest (then eta_r, gamma, n_train, seed,
        alpha0, m0); ``eta_ds``/``eta_rs`` None: the TrainConfig's rate for every run.

        Each argument is a sequence (a list, tuple or 1-D array; ``n_trains``, ``eta_ds``,
        ``eta_rs`` may be None) of numbers, integers for ``seeds`` and ``n_trains``; their
        values are checked by the run set (`RunSet`)."""
        def column(name: str, values: object, integers: bool = False) -> tuple:
            kind = "integers" if integers else "numbers"
            return check_sequence(name, values, f"a non-empty sequence of {kind} (e.g. "
                                  f"{[30, 60] if integers else [0.1, 0.3]})",
                                  item=_is_int if integers else _is_real)

        gammas, alpha0s, m0s = (column(n, v) for n, v in (
            ("gammas", gammas), ("alpha0s", alpha0s), ("m0s", m0s)))
        seeds = column("seeds", seeds, integers=True)
        sizes = [None] if n_trains is None else [
            int(n) for n in column("n_trains", n_trains, integers=True)]
        e_d = [None] if eta_ds is None else [float(e) for e in column("eta_ds", eta_ds)]
        e_r = [None] if eta_rs is None else [float(e) for e in column("eta_rs", eta_rs)]
        grid = [(g, s, a, m, n, d, r) for d in e_d for r in e_r for g in gammas
                for n in sizes for s in seeds for a in alpha0s for m in m0s]
        cols = [tuple(col) for col in zip(*grid)]
        return cls(*cols[:4], n_train=None if n_trains is None else cols[4],
                   eta_d=None if eta_ds is None else cols[5],
                   eta_r=None if eta_rs is None else cols[6])

    def subset(self, members) -> RunSet:
        """The runs at indices ``members``, in that order."""
        idx = [int(i) for i in np.asarray(members).ravel()]
        return RunSet(*(None if getattr(self, f.name) is None
                        else tuple(getattr(self, f.name)[i] for i in idx)
                        for f in dataclasses.fields(self)))

    def to_dict(self) -> dict:
        """The runs as stored in ``config_json`` (per-run rates only where given, so a
        sweep without them keeps its fingerprint)."""
        out = dataclasses.asdict(self)
        for name in ("eta_d", "eta_r"):
            if out[name] is None:
                del out[name]
        return out
