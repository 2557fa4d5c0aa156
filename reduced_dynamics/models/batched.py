"""B members of one ``nn.Module`` as one batched model, and the norm of their θ.

Members are grid points × seeds of a probe, or runs of a sweep. Each member is an ordinary
module (``task.make_module(seed)``); their parameters are stacked into leaves of shape
``(B, ...)`` (``torch.func.stack_module_state``) and one call evaluates all of them:

* ``"vmap"`` (`VmapMembers`, any module): ``vmap(functional_call(module, params_b, x_b))``,
  PyTorch's model-ensembling recipe. Per-member inputs (a representation R_b, minibatch
  indices) are vmapped with the parameters; shared data are not.
* ``"bmm"`` (`BmmMembers`, `reduced_dynamics.models.mlp.MLP` only): the hand-written batched
  matmuls of `batched_mlp`, kept because it is faster for the toy MLP on a CPU
  (``benchmarks/bench_probe.py``). Same numbers as ``"vmap"`` up to float rounding (tested).
* ``"loop"`` (`LoopMembers`, any module): one ``functional_call`` per member, for modules
  whose ops have no vmap batching rule (``nn.LSTM``'s fused kernel); what ``"auto"`` falls
  back to, with a warning, when vmap fails that way.

θ (SPEC §2) is the task's norm group: ``w_b = ||θ_b||_2`` counts each of its parameters
once; the other parameters (``rest``, e.g. a trainable representation inside the module)
are outside the norm. An optimiser over the stacked leaves is B optimisers: Adam's update
is elementwise.
"""

from __future__ import annotations

import copy
import platform
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from reduced_dynamics.errors import InputError

Params = list[torch.Tensor]
PATHS = ("auto", "bmm", "vmap", "loop")
DEVICES = ("cpu", "cuda", "auto")


def init_at_seed(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``factory()`` right after ``torch.manual_seed(seed)``, under a forked RNG: the module
    is PyTorch's default init for ``seed`` and the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return factory()


def sq_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-member squared norm ``||theta_b||^2`` of stacked leaves ``(B, ...)``, shape (B,)."""
    return sum(p.pow(2).flatten(1).sum(1) for p in params)


@torch.no_grad()
def project_(params: Sequence[torch.Tensor], norm: torch.Tensor) -> None:
    """Rescale each member in place onto its sphere ``||theta_b|| = norm[b]``."""
    scale = norm / sq_norm(params).sqrt()
    for p in params:
        p.mul_(scale.view(-1, *([1] * (p.dim() - 1))))


def per_member(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """View a (B,) tensor so that it broadcasts against a stacked leaf ``like`` (B, ...)."""
    return t.view(-1, *([1] * (like.dim() - 1)))


# --------------------------------------------------------------------------- devices


def resolve_device(device: str | torch.device | None = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA where available)."""
    text = "cpu" if device is None else str(device)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text != "cpu" and not text.startswith("cuda"):
        raise InputError(f"`device` must be one of {list(DEVICES)} (or cuda:N), got {text!r}")
    try:
        resolved = torch.device(text)
    except RuntimeError:
        raise InputError(f"`device` must be one of {list(DEVICES)} (or cuda:N), got "
                         f"{text!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"`device` {text!r}: CUDA is not available here (torch "
                             f"{torch.__version__}); use --device cpu or --device auto")
        index = resolved.index or 0
        if index >= torch.cuda.device_count():
            raise InputError(f"`device` {text!r}: only {torch.cuda.device_count()} CUDA "
                             "device(s) here")
    return resolved


def device_name(device: torch.device) -> str:
    """The card's name (``torch.cuda.get_device_name``) or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def device_record(device: torch.device) -> dict[str, str]:
    """What ``config_json`` and resume fingerprints record of the device."""
    return {"device": str(device), "device_name": device_name(device)}


GLIBC_MMAP_THRESHOLD_MAX = 32 << 20  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc


def keep_on_heap(nbytes: int) -> None:
    """Raise glibc's dynamic mmap threshold to ``nbytes`` (at most 32 MiB) by freeing a
    block of that size once (and with it the trim threshold, to twice that).

    Blocks above the threshold (128 KiB at start) are mmapped and unmapped again when freed,
    and free memory above the trim threshold at the top of the heap is returned to the OS,
    so every step's gradients and Adam temporaries (B x the largest layer) would fault their
    pages in afresh. glibc raises both thresholds when a mmapped block is freed; this does
    so on purpose. Measured on the toy probe (64 members, 2 threads): 40 % slower
    without it. (The pre-redesign code got it by accident, freeing a float64 copy of the
    parameters.) Harmless elsewhere: one allocation.
    """
    nbytes = min(int(nbytes), GLIBC_MMAP_THRESHOLD_MAX - (1 << 20))  # a block's overhead
    # must stay within the maximum, or glibc leaves the thresholds as they are
    if nbytes > 0 and platform.system() == "Linux":
        block = torch.empty(nbytes, dtype=torch.uint8)
        del block


def adam_options(device: torch.device) -> dict:
    """Adam's implementation for ``device``: the fused kernel on CUDA (one pass over the
    parameters instead of ~10; the numbers differ from the CPU's at rounding level anyway),
    torch's default on the CPU (which the shipped landscapes were computed with)."""
    return {"fused": True} if device.type == "cuda" else {}


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (timings); nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- members


MakeInput = Callable[..., torch.Tensor]


class Members:
    """B members of one module: stacked θ leaves, other trainable leaves, a batched call.

    ``apply(make_input, args, in_dims)`` returns ``module_b(make_input(*args_b))`` stacked
    over members, shape ``(B, ...)``; ``in_dims[k]`` is 0 where ``args[k]`` is per member
    (stacked along dim 0) and None where it is shared. ``vectorized``: ``make_input``
    also takes the stacked arguments at once (a path may use that to skip a vmap).
    """

    path: str
    size: int
    theta: Params  # stacked leaves of theta (require grad)
    rest: Params  # stacked leaves of the other parameters (require grad)

    @property
    def leaves(self) -> Params:
        return [*self.theta, *self.rest]

    def apply(self, make_input: MakeInput, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        raise NotImplementedError


def _theta_split(module: nn.Module, theta_names: Sequence[str] | None
                 ) -> tuple[list[str], list[str]]:
    names = [n for n, _ in module.named_parameters()]
    if theta_names is None:
        return names, []
    unknown = sorted(set(theta_names) - set(names))
    if unknown or not theta_names:
        raise ValueError(f"`theta_names` must name parameters of the module, got unknown "
                         f"{unknown}; the module has {names}")
    theta = [n for n in names if n in set(theta_names)]  # module order
    return theta, [n for n in names if n not in set(theta_names)]


class VmapMembers(Members):
    """Any module: ``stack_module_state`` + ``functional_call`` + ``vmap``."""

    path = "vmap"

    def __init__(self, modules: Sequence[nn.Module], theta_names: Sequence[str] | None,
                 dtype: torch.dtype, device: torch.device) -> None:
        self.size = len(modules)
        self.theta_names, self.rest_names = _theta_split(modules[0], theta_names)
        params, buffers = stack_module_state(list(modules))
        self.params = {k: v.detach().to(device=device, dtype=dtype).requires_grad_(True)
                       for k, v in params.items()}
        self.buffers = {k: v.to(device=device, dtype=dtype if v.is_floating_point()
                                else v.dtype) for k, v in buffers.items()}
        self.base = copy.deepcopy(modules[0]).to("meta")
        self.theta = [self.params[n] for n in self.theta_names]
        self.rest = [self.params[n] for n in self.rest_names]

    def apply(self, make_input: MakeInput, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        base = self.base

        def one(params, buffers, *a):
            return functional_call(base, (params, buffers), (make_input(*a),))

        return vmap(one, in_dims=(0, 0, *in_dims))(self.params, self.buffers, *args)


class LoopMembers(VmapMembers):
    """Any module, one ``functional_call`` per member (views of the stacked leaves)."""

    path = "loop"

    def apply(self, make_input: MakeInput, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        outs = []
        for b in range(self.size):
            a = [x if d is None else x.select(d, b) for x, d in zip(args, in_dims)]
            params = {k: v[b] for k, v in self.params.items()}
            buffers = {k: v[b] for k, v in self.buffers.items()}
            outs.append(functional_call(self.base, (params, buffers), (make_input(*a),)))
        return torch.stack(outs)


class AutoMembers(VmapMembers):
    """``"vmap"``, switching to ``"loop"`` (with a warning) where an op has no batching
    rule."""

    path = "vmap"

    def apply(self, make_input: MakeInput, args: Sequence, in_dims: Sequence[int | None],
              vectorized: bool = False) -> torch.Tensor:
        if self.path == "loop":
            return LoopMembers.apply(self, make_input, args, in_dims)
        try:
            return VmapMembers.apply(self, make_input, args, in_dims)
        except RuntimeError as exc:
            if "Batching rule not implemented" not in str(exc):
                raise
            warnings.warn(f"{type(self.base).__name__} cannot be vmapped ({exc}); evaluating "
                          "its members one by one (path 'loop')", RuntimeWarning, stacklevel=2)
            self.path = "loop"
            return LoopMembers.apply(self, make_input, args, in_dims)


def members_of(modules: Sequence[nn.Module], theta_names: Sequence[str] | None,
               dtype: torch.dtype, device: torch.device, path: str = "auto") -> Members:
    """Stack ``modules`` (one per member, same architecture) as one batched model.

    ``path``: ``"auto"`` (the bmm fast path for `MLP`, else vmap with the loop fallback),
    ``"bmm"``, ``"vmap"`` or ``"loop"`` (module docstring).
    """
    from reduced_dynamics.models import batched_mlp as bm

    if path not in PATHS:
        raise InputError(f"`path` must be one of {list(PATHS)}, got {path!r}")
    if path == "auto":
        path = "bmm" if bm.fast_path_applies(modules[0], theta_names) else "auto"
    if path == "bmm":
        if not bm.fast_path_applies(modules[0], theta_names):
            raise InputError(f"`path` 'bmm' needs an MLP whose every parameter is in theta; "
                             f"got {type(modules[0]).__name__}; use 'vmap'")
        members: Members = bm.BmmMembers(modules, dtype, device)
    else:
        cls = {"auto": AutoMembers, "vmap": VmapMembers, "loop": LoopMembers}[path]
        members = cls(modules, theta_names, dtype, device)
    if device.type == "cpu":  # room for several temporaries of the largest leaf
        keep_on_heap(4 * max(p.numel() * p.element_size() for p in members.leaves))
    return members
