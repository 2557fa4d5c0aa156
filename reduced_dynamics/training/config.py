"""Configuration of full training runs (SPEC §6), torch-free."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.errors import InputError


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
    # None: full batch. Else minibatches of this many training examples per step, each run
    # in its own epoch order from (shuffle_seed, its seed, epoch) (`tasks.batches`).
    batch_size: int | None = None
    shuffle_seed: int = 0
    # Fig. 7b ("de-grokking"): after every step, rescale theta back to its initial norm
    # alpha0 w0. Weight decay is then meaningless: runs with gamma != 0 are refused.
    constrain_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "n_log", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InputError(f"`{name}` must be >= 1, got {getattr(self, name)}")
        if not self.eta_d > 0:
            raise InputError(f"`eta_d` must be > 0, got {self.eta_d}")
        if not self.eta_r >= 0:
            raise InputError(f"`eta_r` must be >= 0, got {self.eta_r}")
        if self.dtype not in ("float32", "float64"):
            raise InputError(f"`dtype` must be 'float32' or 'float64', got {self.dtype!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"`batch_size` must be >= 1 (or None: full batch), got "
                             f"{self.batch_size}")

    def check_runs(self, runs: RunSet) -> None:
        """Refuse runs this configuration cannot train: weight decay with constrain_norm."""
        if self.constrain_norm and any(g != 0 for g in runs.gamma):
            raise InputError(f"`constrain_norm` keeps ||theta|| at alpha0 w0, so weight decay "
                             f"has no effect: `gamma` must be 0, got {sorted(set(runs.gamma))} "
                             "(--gamma 0)")

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
        if min(self.gamma) < 0:
            raise InputError(f"`gamma` must be >= 0, got {min(self.gamma)}")
        if min(self.alpha0) <= 0:
            raise InputError(f"`alpha0` must be > 0, got {min(self.alpha0)}")
        if min(self.m0) < 0 or max(self.m0) > 1:
            raise InputError(f"`m0` must lie in [0, 1], got {list(self.m0)}")

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
