"""Per-member data selection: which examples each member's loss is over.

A `Selection` names the examples of a split: ``index`` (None: all; ``(K,)``: shared by every
member; ``(B, K)``: per member) and ``weight`` (None: all 1; ``(B, K)``: per member, 0 for
padding or for examples outside a member's n_train subset). `MemberData` makes them:

* full batch (``batch_size`` None): every member uses its whole training set — with an
  n_train axis, the first ``max(n_train)`` examples of the task's subset order, shared,
  weighted 1 for a member's first n_train of them and 0 for the rest;
* minibatches of ``batch_size``: member b walks through epochs of its own n_train subset,
  each in the order ``default_rng([shuffle_seed, seed_b, epoch]).permutation(n_train_b)``,
  cut into consecutive batches (the last one of an epoch shorter, padded with weight 0).
  The order depends only on (shuffle_seed, seed, n_train), so a member sees the same
  batches in any grouping, and grid points of one seed share them.

Evaluation (`MemberData.eval_selections`) covers a split in chunks of ``batch_size``
examples (one chunk for a full batch); per-chunk means are combined by example counts
(`batching.evaluation`). The task's ``collate`` turns a member's selected examples into
its module's inputs (`reduced_dynamics.tasks.base.TorchTask.collate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from reduced_dynamics.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from reduced_dynamics.tasks.base import TorchTask


@dataclass(frozen=True)
class Selection:
    """Examples of one split for every member (module docstring)."""

    index: torch.Tensor | None = None
    weight: torch.Tensor | None = None

    @property
    def index_dim(self) -> int | None:
        return 0 if self.index is not None and self.index.dim() == 2 else None

    @property
    def weight_dim(self) -> int | None:
        return None if self.weight is None else 0

    def counts(self, n_all: int, size: int, dtype: torch.dtype, device: torch.device
               ) -> torch.Tensor:
        """Examples per member, (B,)."""
        if self.weight is not None:
            return self.weight.sum(-1)
        n = n_all if self.index is None else self.index.shape[-1]
        return torch.full((size,), float(n), dtype=dtype, device=device)


FULL = Selection()


class MemberData:
    """Per-member training subsets (n_train) and minibatches (module docstring)."""

    def __init__(self, task: TorchTask, size: int, *, seeds: np.ndarray | None = None,
                 n_train: np.ndarray | None = None, batch_size: int | None = None,
                 shuffle_seed: int = 0) -> None:
        self.task, self.size = task, size
        self.batch_size, self.shuffle_seed = batch_size, int(shuffle_seed)
        self.seeds = np.zeros(size, np.int64) if seeds is None else np.asarray(seeds)
        n_full = task.n_examples("train")
        if batch_size is not None and batch_size < 1:
            raise InputError(f"`batch_size` must be >= 1 (or None: full batch), got "
                             f"{batch_size}")
        if n_train is None:
            self.n_train = np.full(size, n_full, np.int64)
            self.order = None
        else:
            self.n_train = np.broadcast_to(task.check_n_train(n_train), (size,)).copy()
            self.order = task.subset_order()
        self.n_max = int(self.n_train.max())
        self._perms: dict[tuple[int, int], tuple[int, np.ndarray]] = {}
        self._full_train = self._chunk("train", 0, self.n_max)

    def _dataset_index(self, positions: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Positions in the subset order -> example indices of the training set."""
        pos = self.task.tensor(np.asarray(positions, np.int64))
        return pos if self.order is None else self.order[pos]

    def _chunk(self, split: str, start: int, stop: int) -> Selection:
        """Examples ``start:stop`` of ``split`` (train: in subset order), masked per member
        by its n_train."""
        n_all = self.task.n_examples(split)
        if split == "test" or self.order is None:
            return FULL if (start, stop) == (0, n_all) else Selection(
                self.task.tensor(np.arange(start, stop)))
        index = self._dataset_index(np.arange(start, stop))
        if bool((self.n_train >= stop).all()):
            return Selection(index)
        pos = np.arange(start, stop)
        weight = self.task.tensor((pos[None, :] < self.n_train[:, None]).astype(float))
        return Selection(index, weight)

    def _epoch_order(self, b: int, epoch: int) -> np.ndarray:
        key = (int(self.seeds[b]), int(self.n_train[b]))
        cached = self._perms.get(key)
        if cached is None or cached[0] != epoch:
            rng = np.random.default_rng([self.shuffle_seed, key[0], epoch])
            cached = (epoch, rng.permutation(key[1]))
            self._perms[key] = cached
        return cached[1]

    def train_batch(self, step: int) -> Selection:
        """The training examples of optimiser step ``step`` (0-based) for every member."""
        if self.batch_size is None:
            return self._full_train
        bs = self.batch_size
        positions = np.zeros((self.size, bs), np.int64)
        weight = np.zeros((self.size, bs))
        for b in range(self.size):
            n = int(self.n_train[b])
            epoch, k = divmod(step, -(-n // bs))
            chunk = self._epoch_order(b, epoch)[k * bs:(k + 1) * bs]
            positions[b, :chunk.size] = chunk
            weight[b, :chunk.size] = 1.0
        index = self._dataset_index(positions)
        return Selection(index, None if weight.all() else self.task.tensor(weight))

    def eval_selections(self, split: str) -> Iterator[Selection]:
        """Chunks covering ``split`` (train: every member's n_train subset)."""
        n = self.n_max if split == "train" else self.task.n_examples(split)
        step = n if self.batch_size is None else self.batch_size
        for start in range(0, n, step):
            yield self._chunk(split, start, min(n, start + step))


def check_batch_size(name: str, batch_size: int | None, task: TorchTask,
                     n_train: object = None) -> None:
    """Refuse a minibatch larger than the largest training set of a sweep (every step would
    be padded to ``batch_size`` examples, most of them with weight 0): ``n_train`` the
    sweep's sizes (None: the task's whole training set)."""
    if batch_size is None:
        return
    n_max = (task.n_examples("train") if n_train is None
             else int(np.max(np.asarray(n_train))))
    if batch_size > n_max:
        which = "of this task" if n_train is None else "of the sweep's n_train"
        raise InputError(f"`{name}` must be at most the training-set size ({n_max} examples "
                         f"{which}), got {batch_size}; give a smaller one, or drop it for "
                         "full batch")
