"""A task's members on their selected data: predictions, per-member losses and accuracies,
and whole-split evaluations (torch).

`members_for` builds the batched model of a task (`batching.build`); with a sample of the
training data it settles an "auto" path there, by the dry run of `batching.members`.
`predict` feeds each member the examples of a `Selection` through the task's ``collate``
(per-member arguments, its representation R_b and its example indices, vmapped with the
parameters; shared ones not); `member_loss` and `member_accuracy` apply the task's
one-member ``loss`` and ``accuracy`` to every member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import vmap

from reduced_dynamics.batching.build import members_of
from reduced_dynamics.batching.data import MemberData, Selection
from reduced_dynamics.batching.members import Members, StackedMembers
from reduced_dynamics.tasks.base import TorchTask


def members_for(task: TorchTask, seeds: np.ndarray, dtype: torch.dtype,
                device: torch.device, path: str = "auto", *,
                sample: tuple[torch.Tensor | None, Selection] | None = None) -> Members:
    """One batched model of ``task.make_module(seed)`` for every member's seed.

    ``path`` "auto" takes the task's own (`TorchTask.batch_path`). ``sample``: (rep, the
    first training selection) — an "auto" vmap-or-loop choice is made on it now, on the
    kind of inputs (shared or per member) the training steps will use; without it, on the
    first call."""
    modules = {int(s): task.make_module(int(s)) for s in np.unique(seeds)}
    members = members_of([modules[int(s)] for s in np.asarray(seeds).ravel()],
                         task.theta_names, dtype, device,
                         task.batch_path if path == "auto" else path)
    if sample is not None and isinstance(members, StackedMembers):
        rep, sel = sample
        members.decide(*call_of(task, rep, "train", sel))
    return members


def call_of(task: TorchTask, rep: torch.Tensor | None, split: str, sel: Selection):
    """``(collate, args, in_dims)`` of `Members.apply` for the examples ``sel`` of ``split``:
    the task's ``collate`` of a member's representation and its example indices."""
    def collate(r, i):
        return task.collate(r, split, i)

    return collate, (rep, sel.index), (None if rep is None else 0, sel.index_dim)


def predict(task: TorchTask, members: Members, rep: torch.Tensor | None, split: str,
            sel: Selection) -> torch.Tensor:
    """Network outputs of every member on the examples of ``sel``, ``(B, ...)``."""
    return members.apply(*call_of(task, rep, split, sel),
                         vectorized=task.vectorized and sel.index_dim is None)


def _per_member(task: TorchTask, fn, pred: torch.Tensor, sel: Selection) -> torch.Tensor:
    """``fn(pred_b, index_b, weight_b)`` for every member b, shape (B,)."""
    if task.vectorized and sel.index_dim is None:
        return fn(pred, sel.index, sel.weight)
    return vmap(fn, in_dims=(0, sel.index_dim, sel.weight_dim))(pred, sel.index, sel.weight)


def member_loss(task: TorchTask, pred: torch.Tensor, split: str, sel: Selection
                ) -> torch.Tensor:
    """Per-member loss (B,) of predictions ``pred`` on ``sel``."""
    return _per_member(task, lambda p, i, w: task.loss(p, split, i, w), pred, sel)


def member_accuracy(task: TorchTask, pred: torch.Tensor, split: str, sel: Selection
                    ) -> torch.Tensor:
    """Per-member accuracy (B,) of predictions ``pred`` on ``sel``."""
    return _per_member(task, lambda p, i, w: task.accuracy(p, split, i, w), pred, sel)


@dataclass
class Evaluation:
    """Per-member loss and accuracy over a whole split, and gradients of the loss."""

    loss: torch.Tensor  # (B,)
    acc: torch.Tensor  # (B,)
    grads: list[torch.Tensor]  # d loss_b / d wrt[k], summed over members as autograd does


def evaluate(task: TorchTask, members: Members, rep: torch.Tensor | None, split: str,
             data: MemberData, wrt: Sequence[torch.Tensor] = ()) -> Evaluation:
    """Loss and accuracy of every member over ``split`` (train: its n_train subset), in
    chunks of ``data.batch_size``; with ``wrt``, also the gradients of ``sum_b loss_b``
    with respect to those tensors (accumulated chunk by chunk)."""
    chunks = list(data.eval_selections(split))
    n_all = task.n_examples(split)
    with torch.set_grad_enabled(bool(wrt)):
        if len(chunks) == 1:  # the loss as it is, no re-weighting (exact old numbers)
            pred = predict(task, members, rep, split, chunks[0])
            loss = member_loss(task, pred, split, chunks[0])
            grads = list(torch.autograd.grad(loss.sum(), list(wrt))) if wrt else []
            acc = member_accuracy(task, pred.detach(), split, chunks[0])
            return Evaluation(loss.detach(), acc, grads)
        total_loss = total_acc = total_n = 0.0
        grads = [torch.zeros_like(t) for t in wrt]
        for k, sel in enumerate(chunks):
            pred = predict(task, members, rep, split, sel)
            n = sel.counts(n_all, members.size, pred.dtype, pred.device)
            part = torch.where(n > 0, member_loss(task, pred, split, sel) * n, 0.0)
            if wrt:  # every chunk goes back through the one R(m) graph shared by all
                for g, d in zip(grads, torch.autograd.grad(
                        part.sum(), list(wrt), retain_graph=k < len(chunks) - 1)):
                    g += d
            acc = member_accuracy(task, pred.detach(), split, sel)
            total_loss = total_loss + part.detach()
            total_acc = total_acc + torch.where(n > 0, acc * n, 0.0)
            total_n = total_n + n
        grads = [g / total_n.view(-1, *([1] * (g.dim() - 1))) for g in grads]
        return Evaluation(total_loss / total_n, total_acc / total_n, grads)
