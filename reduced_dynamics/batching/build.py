"""Members of one module as one batched model: a registered fast path, else vmap or loop.

``members_of(modules, theta_names, dtype, device, path)``: ``path`` is ``"auto"`` (the
first registered fast path that applies to the module, else `StackedMembers` with the
vmap-or-loop dry run of `batching.members`), ``"vmap"``, ``"loop"``, or the name of a
fast path (``"bmm"``: `batching.mlp_bmm`, `MLP` modules whose every parameter is in θ).
A fast path is kept only where a benchmark shows it wins (``benchmarks/bench_probe.py``);
`register_fast_path` adds one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from reduced_dynamics.batching import mlp_bmm
from reduced_dynamics.batching.devices import keep_on_heap
from reduced_dynamics.batching.members import Members, StackedMembers
from reduced_dynamics.batching.stacking import Stack
from reduced_dynamics.errors import InputError

GENERIC_PATHS = ("auto", "vmap", "loop")


@dataclass(frozen=True)
class FastPath:
    """A hand-written `Members` for some modules: ``applies(module, theta_names)`` says
    which, ``build(modules, dtype, device)`` stacks them, ``needs`` says so in words."""

    name: str
    applies: Callable[[nn.Module, Sequence[str] | None], bool]
    build: Callable[[Sequence[nn.Module], torch.dtype, torch.device], Members]
    needs: str


FAST_PATHS: dict[str, FastPath] = {}


def register_fast_path(fast: FastPath) -> FastPath:
    """Add a fast path; ``"auto"`` tries the registered ones in order."""
    if fast.name in GENERIC_PATHS or fast.name in FAST_PATHS:
        raise InputError(f"a batching path named {fast.name!r} exists already")
    FAST_PATHS[fast.name] = fast
    return fast


register_fast_path(FastPath("bmm", mlp_bmm.fast_path_applies, mlp_bmm.BmmMembers,
                            "an MLP whose every parameter is in theta"))


def paths() -> tuple[str, ...]:
    """Every value ``path`` may take."""
    return (*GENERIC_PATHS, *FAST_PATHS)


def members_of(modules: Sequence[nn.Module], theta_names: Sequence[str] | None,
               dtype: torch.dtype, device: torch.device, path: str = "auto") -> Members:
    """Stack ``modules`` (one per member, same architecture) as one batched model along
    ``path`` (module docstring)."""
    if path not in paths():
        raise InputError(f"`path` must be one of {list(paths())}, got {path!r}")
    fast = FAST_PATHS.get(path)
    if path == "auto":
        fast = next((f for f in FAST_PATHS.values() if f.applies(modules[0], theta_names)),
                    None)
    elif fast is not None and not fast.applies(modules[0], theta_names):
        raise InputError(f"`path` {path!r} needs {fast.needs}; got "
                         f"{type(modules[0]).__name__}; use 'vmap'")
    if fast is not None:
        members = fast.build(modules, dtype, device)
    else:
        members = StackedMembers(Stack(modules, theta_names, dtype, device), path)
    if device.type == "cpu":  # room for several temporaries of the largest leaf
        keep_on_heap(4 * max(p.numel() * p.element_size() for p in members.leaves))
    return members
