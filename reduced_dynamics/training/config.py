"""Configuration of full training runs (SPEC §6), torch-free."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.errors import InputError
from reduced_dynamics.landscape.config import (
    MAX_STEPS,
    check_adam_lr,
    check_int,
    check_real,
    check_seeds,
)

MAX_N_LOG = 100_000  # logged steps per run: 7 float64 series of this length per run


@dataclass(frozen=True)
class TrainConfig:
    """AdamW on decoder (lr eta_d, weight decay gamma) and representation (lr eta_r)."""

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

    def __post_init__(self) -> None:
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
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"`dtype` must be 'float32' or 'float64', got {self.dtype!r}")
        check_adam_lr("eta_d", self.eta_d, self.beta1, self.dtype)
        check_adam_lr("eta_r", self.eta_r, self.beta1, self.dtype)

    def check_decay(self, runs: RunSet) -> None:
        """AdamW multiplies the decayed weights by 1 - eta gamma every step: refuse
        eta gamma >= 1 (the factor would be <= 0, flipping or zeroing every weight)."""
        rates = [("eta_d", self.eta_d)]
        if self.wd_representation:
            rates.append(("eta_r", self.eta_r))
        for name, eta in rates:
            worst = max(runs.gamma)
            if not eta * worst < 1:
                raise InputError(f"`gamma` x `{name}` must be < 1 (AdamW multiplies the "
                                 f"weights by 1 - {name} gamma at every step), got gamma = "
                                 f"{worst:g} with {name} = {eta:g}; use gamma < {1 / eta:g}")

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

    def __post_init__(self) -> None:
        n = len(self.gamma)
        if n == 0 or any(len(v) != n for v in (self.seed, self.alpha0, self.m0)):
            raise InputError("a run set needs equally long, non-empty gamma/seed/alpha0/m0")
        for g in self.gamma:
            check_real("gamma", g, low=0.0)
        for a in self.alpha0:
            check_real("alpha0", a, low=0.0, low_open=True)
        for m in self.m0:
            check_real("m0", m, low=0.0, high=1.0)
        check_seeds("seed", self.seed)

    def __len__(self) -> int:
        return len(self.gamma)

    @classmethod
    def sweep(cls, gammas, seeds, alpha0s, m0s) -> RunSet:
        """Every combination, gamma varying slowest."""
        grid = [(g, s, a, m) for g in gammas for s in seeds for a in alpha0s for m in m0s]
        return cls(*(tuple(col) for col in zip(*grid)))

    def subset(self, members) -> RunSet:
        """The runs at indices ``members``, in that order."""
        idx = [int(i) for i in np.asarray(members).ravel()]
        return RunSet(*(tuple(getattr(self, f.name)[i] for i in idx)
                        for f in dataclasses.fields(self)))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
