"""Configuration of the constrained-norm probe (SPEC §2, §3), torch-free."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reduced_dynamics.errors import InputError


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
        if self.steps < 10:
            raise InputError(f"`steps` must be >= 10, got {self.steps}")
        if not self.lr > 0:
            raise InputError(f"`lr` must be > 0, got {self.lr}")
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
        if self.chunk_size < 1:
            raise InputError(f"`chunk_size` must be >= 1, got {self.chunk_size}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"`batch_size` must be >= 1 (or None: full batch), got "
                             f"{self.batch_size}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PROBE_PRESETS: dict[str, ProbeConfig] = {
    "paper": ProbeConfig(),
    "notebook": ProbeConfig(steps=15_000, lr=1e-2, beta2=0.99, schedule="step", lr_decay_every=5000,
                            lr_decay_factor=0.2),
}
