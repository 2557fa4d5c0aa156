"""B stacked members evaluated as one call: the `Members` interface, vmap, a loop, and the
dry run that chooses between them (torch).

``apply(collate, args, in_dims)`` returns ``module_b(*collate(*args_b))`` stacked over
members, shape ``(B, ...)``; ``in_dims[k]`` is 0 where ``args[k]`` is per member (stacked
along dim 0) and None where it is shared. ``collate`` turns one member's arguments (its
representation, its example indices) into the module's inputs: a tensor (one argument), a
tuple (positional arguments) or a dict (keyword arguments), of tensors or any pytree of
them (`forward_args`). Two generic paths (`StackedMembers`):

* ``"vmap"``: ``vmap(functional_call(module, params_b, inputs_b), randomness="different")``,
  PyTorch's model-ensembling recipe; ``collate`` runs under the vmap, so per-member inputs
  must have one shape for every member; dropout draws a different mask per member.
* ``"loop"``: one ``functional_call`` per member, ``collate`` on that member's concrete
  arguments: any Python in it (a torch-geometric ``Batch`` of that member's graphs), ops
  without a vmap batching rule (``nn.LSTM``'s fused kernel), inputs whose shapes differ
  between members (ragged data).
* ``"auto"``: `dry_run` decides once, before the first call is computed: one vmapped
  forward and backward on that call's inputs, discarded; vmap if it works, else the loop
  (with a warning). A task may declare its path instead (`TorchTask.batch_path`).

Hand-written fast paths for particular modules implement `Members` too
(`batching.mlp_bmm`) and are chosen by `batching.build`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_leaves

from reduced_dynamics.batching.stacking import Params, Stack

Collate = Callable[..., Any]  # one member's arguments -> the module's inputs
RANDOMNESS = "different"  # vmap's randomness: each member draws its own dropout masks


class Members:
    """B members of one module: θ leaves, other trainable leaves, a batched call."""

    path: str
    size: int
    theta: Params  # stacked leaves of theta (require grad)
    rest: Params  # stacked leaves of the other parameters (require grad)

    @property
    def leaves(self) -> Params:
        return [*self.theta, *self.rest]

    def apply(self, collate: Collate, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        """Outputs ``(B, ...)`` of every member on its inputs (module docstring).
        ``vectorized``: ``collate`` also takes the stacked arguments at once (a path may use
        that to skip a vmap)."""
        raise NotImplementedError


def forward_args(inputs: Any) -> tuple[tuple, dict]:
    """A collate's result as ``forward``'s arguments: a tuple is the positional arguments,
    a dict the keyword arguments, anything else the one argument."""
    if isinstance(inputs, tuple):
        return inputs, {}
    if isinstance(inputs, dict):
        return (), inputs
    return (inputs,), {}


def _call(stack: Stack, params: dict, buffers: dict, inputs: Any) -> torch.Tensor:
    args, kwargs = forward_args(inputs)
    return functional_call(stack.base, (params, buffers), args, kwargs)


def vmapped(stack: Stack, buffers: dict, collate: Collate, args: Sequence,
            in_dims: Sequence[int | None]) -> torch.Tensor:
    """Every member through one ``vmap`` of ``functional_call``."""
    def one(params, buffers, *a):
        return _call(stack, params, buffers, collate(*a))

    return vmap(one, in_dims=(0, 0, *in_dims), randomness=RANDOMNESS)(
        stack.params, buffers, *args)


def looped(stack: Stack, collate: Collate, args: Sequence, in_dims: Sequence[int | None]
           ) -> torch.Tensor:
    """Member by member, each on its own concrete arguments; outputs stacked."""
    shared = all(d is None for d in in_dims)
    inputs = collate(*args) if shared else None
    outs = []
    for b in range(stack.size):
        if not shared:
            inputs = collate(*[x if d is None else x.select(d, b)
                               for x, d in zip(args, in_dims)])
        outs.append(_call(stack, *stack.member(b), inputs))
    return torch.stack(outs)


def dry_run(stack: Stack, collate: Collate, args: Sequence, in_dims: Sequence[int | None]
            ) -> Exception | None:
    """One vmapped forward and backward on these inputs, discarded: None where both work,
    else what was raised. The global RNG (dropout), the buffers (batch-norm statistics),
    the leaves' ``.grad`` and any graph the arguments carry are left as they were."""
    leaves = list(stack.params.values())
    devices = [leaves[0].device] if leaves and leaves[0].device.type == "cuda" else []
    buffers = {k: v.clone() for k, v in stack.buffers.items()}
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        try:
            out = vmapped(stack, buffers, collate, args, in_dims)
            grads = [t for t in tree_leaves(out)
                     if isinstance(t, torch.Tensor) and t.requires_grad]
            if grads:
                torch.autograd.grad(sum(t.sum() for t in grads), leaves, allow_unused=True,
                                    retain_graph=True)
        except Exception as exc:  # whatever vmap cannot do: the loop can
            return exc
    return None


class StackedMembers(Members):
    """Any module, over a `Stack`: path ``"vmap"``, ``"loop"`` or ``"auto"`` (module
    docstring). ``path`` reads "auto" until `decide` has run."""

    def __init__(self, stack: Stack, path: str = "auto") -> None:
        if path not in ("auto", "vmap", "loop"):
            raise ValueError(f"`path` must be 'auto', 'vmap' or 'loop', got {path!r}")
        self.stack, self.path, self.size = stack, path, stack.size
        self.theta, self.rest = stack.theta, stack.rest

    def decide(self, collate: Collate, args: Sequence, in_dims: Sequence[int | None]) -> str:
        """Settle an "auto" path by a `dry_run` on these inputs (once); the path."""
        if self.path == "auto":
            exc = dry_run(self.stack, collate, args, in_dims)
            self.path = "vmap" if exc is None else "loop"
            if exc is not None:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                warnings.warn(f"{type(self.stack.base).__name__} cannot be vmapped on these "
                              f"inputs ({type(exc).__name__}: {first}); evaluating its "
                              "members one by one (path 'loop'; a task can declare "
                              "batch_path = 'loop')", RuntimeWarning, stacklevel=3)
        return self.path

    def apply(self, collate: Collate, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        if self.decide(collate, args, in_dims) == "loop":
            return looped(self.stack, collate, args, in_dims)
        return vmapped(self.stack, self.stack.buffers, collate, args, in_dims)
