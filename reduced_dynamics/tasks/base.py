"""What a task is: a torch-free registry entry, and the contract of its torch adapter.

The probe, the trainer, the files, the CLI and the validation are written once, against
these two things. A new task (images, text, molecules) supplies only

* a frozen config dataclass with ``preset``, ``layer_sizes``, ``activation`` and
  ``to_dict()`` (stored whole in every file as ``config_json``), and its presets;
* a torch adapter class following `TorchTask` (its data and loss; the network is always
  the batched MLP of `reduced_dynamics.models.batched_mlp`);
* a `TaskEntry` naming both, with the task's default probe and training settings,
  registered in `reduced_dynamics.tasks`.

Importing this module needs neither torch nor matplotlib: the adapter is imported when
`TaskEntry.torch_task` is called.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reduced_dynamics.errors import InputError
from reduced_dynamics.landscape.config import ProbeConfig
from reduced_dynamics.training.config import TrainConfig

if TYPE_CHECKING:  # pragma: no cover
    import torch


class TorchTask(Protocol):
    """Torch view of a task: data, representation, loss and accuracy of B members at once.

    Members are grid points of a probe or runs of a sweep; ``pred`` is the network output
    ``(B, n, d_out)`` on the ``n`` examples of ``split`` ("train" or "test").
    """

    config: Any
    layer_sizes: tuple[int, ...]  # the trained network (theta): d_in, hidden..., d_out
    activation: str  # "relu", "leaky_relu" or "tanh" (see batched_mlp.forward)
    negative_slope: float  # for leaky_relu
    # Tasks with a representation coordinate m (SPEC §3): R(m) = m R_random + (1-m) R_lin,
    # and m_hat of a trained representation is its least-squares coordinate on that line.
    has_m: bool
    r_lin: torch.Tensor | None
    r_rand: torch.Tensor | None

    def init_params(self, seed: int) -> list[torch.Tensor]:
        """Unbatched parameters of the network at PyTorch's default init for ``seed``."""
        ...

    def representation(self, m: torch.Tensor) -> torch.Tensor | None:
        """R(m) for ``m: (B,)``, or None for a task without m."""
        ...

    def inputs(self, rep: torch.Tensor | None, split: str, batch: int | None = None
               ) -> torch.Tensor:
        """Network inputs ``(B, n, d_in)`` from the representation (or fixed data)."""
        ...

    def loss(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Per-member training objective (no weight decay), shape (B,)."""
        ...

    def accuracy(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Per-member fraction of correct examples, shape (B,)."""
        ...


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its config type and presets, adapter and default settings."""

    name: str  # as on the command line and in files' ``task`` attribute
    description: str
    config_type: type
    presets: Mapping[str, Any]  # preset name -> config
    adapter: str  # "module:Class" of the torch adapter, module relative to this package
    has_m: bool  # the landscape has an m axis (else 1-D: dims w only)
    probe_presets: Mapping[str, ProbeConfig]  # preset name -> probe settings
    train: TrainConfig  # default full-run settings
    probe_seeds: tuple[int, ...]  # default restarts of `probe` (init seeds)
    train_seeds: tuple[int, ...]  # default init seeds of `train`
    alpha0: str  # default `--alpha0` of `train` (and alpha of `predict`'s default start)
    m0: float = 0.0  # default `--m0` of `train` (and m of `predict`'s default start)
    gammas: str = "log:0.03:1:8"  # default weight decays of `train` and `predict`
    first_seed: int = 0  # `--seeds N` (a count) means seeds first_seed .. first_seed+N-1

    def preset(self, name: str, **overrides) -> Any:
        """The named task preset, with any fields replaced."""
        if name not in self.presets:
            raise InputError(f"`preset` of task {self.name!r} must be one of "
                             f"{sorted(self.presets)}, got {name!r}")
        return dataclasses.replace(self.presets[name], **overrides)

    def probe_preset(self, name: str) -> ProbeConfig:
        """Default probe settings for the named task preset."""
        if name not in self.probe_presets:
            raise InputError(f"task {self.name!r} has no probe preset {name!r}; it has "
                             f"{sorted(self.probe_presets)}")
        return self.probe_presets[name]

    def torch_task(self, config: Any, dtype: torch.dtype) -> TorchTask:
        """The torch adapter of ``config`` (imports torch)."""
        module, cls = self.adapter.split(":")
        mod = importlib.import_module(f"{__package__}.{module}")
        return getattr(mod, cls)(config, dtype)


REGISTRY: dict[str, TaskEntry] = {}


def register(entry: TaskEntry) -> TaskEntry:
    """Add a task to the registry (names and config types must be unique)."""
    for other in REGISTRY.values():
        if other.name != entry.name and other.config_type is entry.config_type:
            raise ValueError(f"config type {entry.config_type.__name__} is already "
                             f"registered by task {other.name!r}")
    REGISTRY[entry.name] = entry
    return entry


def get_task(name: str) -> TaskEntry:
    """The registered task ``name``; `InputError` listing the known tasks otherwise."""
    if name not in REGISTRY:
        raise InputError(f"`task` must be one of {list(REGISTRY)}, got {name!r}")
    return REGISTRY[name]


def task_of(config: Any) -> TaskEntry:
    """The registered task whose config type ``config`` is."""
    for entry in REGISTRY.values():
        if isinstance(config, entry.config_type):
            return entry
    raise InputError(f"no registered task has config type {type(config).__name__}; known "
                     f"tasks: {list(REGISTRY)}")


def torch_task(config: Any, dtype: torch.dtype) -> TorchTask:
    """The torch adapter of a task config (imports torch)."""
    return task_of(config).torch_task(config, dtype)
