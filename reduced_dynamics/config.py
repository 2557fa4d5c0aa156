"""Configuration of the probe (SPEC §2, §3) and of full training runs (SPEC §6, §13), with
checked at construction with the shared checkers of `reduced_dynamics.checks`.

A leaf: torch-free, and it imports nothing of the package but its checkers and exceptions
(`reduced_dynamics.checks`, `reduced_dynamics.errors`), so tasks, the probe, the trainer
and the CLI can all import it without importing each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.checks import (
    MAX_STEPS,
    check_adam_lr,
    check_bool,
    check_choice,
    check_int,
    check_real,
    check_seeds,
    check_sequence,
    is_int,
    is_real,
    plain_fields,
)
from reduced_dynamics.errors import InputError, shown

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
    # (shuffle_seed, its init seed, epoch) (`reduced_dynamics.batching.data`).
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
STARTS = ("init", "relaxed")  # SPEC §13: the scaled init, or the decoder relaxed on it


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
    # in its own epoch order from (shuffle_seed, its seed, epoch) (`batching.data`).
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
    # "init": theta starts at the scaled default init; "relaxed" (SPEC §13, quasi-static
    # start): before step 0, theta is minimised at fixed norm alpha0 w0 with the task's
    # probe preset (`batching.sphere.minimise_on_sphere`), the representation frozen at
    # R(m0); those steps are not training steps. relax_steps: the probe's steps (None: the
    # preset's).
    start: str = "init"
    relax_steps: int | None = None

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
        check_choice("start", self.start, STARTS)
        if self.relax_steps is not None:
            check_int("relax_steps", self.relax_steps, 1, MAX_STEPS)
            if self.start != "relaxed":
                raise InputError(f"`relax_steps` is the relaxation of start 'relaxed'; with "
                                 f"start {self.start!r} drop it, got {self.relax_steps}")

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
        """As stored in ``config_json``; the start only where not the default, so a
        sweep from the init keeps its fingerprint."""
        out = dataclasses.asdict(self)
        if self.start == "init":
            del out["start"], out["relax_steps"]
        return out


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
                                  item=is_int if integers else is_real)

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
