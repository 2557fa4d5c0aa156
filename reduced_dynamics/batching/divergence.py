"""Members of a batched model that overflow are frozen, not fatal (torch).

Members of a batch are independent: batched matmuls, per-member losses and norms, and
Adam's elementwise update. So a member whose loss or gradient becomes inf/NaN cannot change
the others' numbers, provided its NaN never reaches a shared value. `DivergenceGuard`
records the first such step per member and freezes the member there: its gradient is
replaced by 0 (`torch.where`, so NaN never enters the optimiser state) and its leaves are
reset after every update to the values they had when it froze. The other members compute
bit for bit what they would without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from reduced_dynamics.names import RunStatus


def finite_members(tensors: Iterable[torch.Tensor | None]) -> np.ndarray:
    """(B,) bool: member b (axis 0) has only finite values in every tensor (None: skipped).

    One cheap pass: a sum is finite unless an element is inf/NaN (or finite values overflow
    it); only when some sum is not finite are the elements themselves checked.
    """
    flats = [t.reshape(t.shape[0], -1) for t in tensors if t is not None]
    sums = torch.stack([f.sum(1) for f in flats])
    ok = torch.isfinite(sums).all(0)
    if not bool(ok.all()):
        ok = torch.stack([torch.isfinite(f).all(1) for f in flats]).all(0)
    return ok.cpu().numpy()


class DivergenceGuard:
    """Per-member divergence record and freeze of the batched ``leaves`` (axis 0: member).

    Call `mark` with what was found finite, `zero_grads` before the optimiser step and
    `restore` after the whole update (decay, step, projection).
    """

    def __init__(self, leaves: Sequence[torch.Tensor]) -> None:
        self.leaves = list(leaves)
        self.diverged_step = np.full(self.leaves[0].shape[0], -1, np.int64)
        self._mask: torch.Tensor | None = None
        self._frozen_values: list[torch.Tensor] = []

    @property
    def diverged(self) -> np.ndarray:
        return self.diverged_step >= 0

    def mark(self, step: int, finite: np.ndarray) -> None:
        """Members not ``finite`` at ``step`` diverged there (if not before): freeze them."""
        new = ~np.asarray(finite, bool) & ~self.diverged
        if new.any():
            self.diverged_step[new] = step
            self._freeze()

    def load(self, diverged_step: np.ndarray) -> None:
        """Restore the record of a checkpoint (the leaves hold their frozen values)."""
        self.diverged_step = np.asarray(diverged_step, np.int64).copy()
        self._freeze()

    def _freeze(self) -> None:
        # Frozen members' leaves already hold their frozen values (restored every step),
        # so a copy of every leaf now serves old and new members alike.
        if not self.diverged.any():
            self._mask, self._frozen_values = None, []
            return
        self._mask = torch.as_tensor(self.diverged, device=self.leaves[0].device)
        self._frozen_values = [p.detach().clone() for p in self.leaves]

    def _view(self, p: torch.Tensor) -> torch.Tensor:
        return self._mask.view(-1, *([1] * (p.dim() - 1)))

    @torch.no_grad()
    def zero_grads(self) -> None:
        """Gradient 0 for frozen members (replaced, not multiplied: 0 * NaN is NaN)."""
        if self._mask is None:
            return
        for p in self.leaves:
            if p.grad is not None:
                p.grad.masked_fill_(self._view(p), 0.0)

    @torch.no_grad()
    def restore(self) -> None:
        """Reset frozen members' leaves to their values at the freeze."""
        if self._mask is None:
            return
        for p, frozen in zip(self.leaves, self._frozen_values):
            p.copy_(torch.where(self._view(p), frozen, p))

    def status(self) -> np.ndarray:
        """(B,) int8 `RunStatus` codes."""
        return np.where(self.diverged, RunStatus.DIVERGED, RunStatus.OK).astype(np.int8)

    def step_or_nan(self) -> np.ndarray:
        """(B,) float: the step each member diverged at, NaN if it did not."""
        return np.where(self.diverged, self.diverged_step, np.nan)
