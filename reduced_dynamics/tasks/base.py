"""What a task is: a torch-free registry entry, and the contract of its torch adapter.

The probe, the trainer, the files, the CLI and the validation are written once, against
these two things. A new task (images, text, molecules) supplies only

* a frozen config dataclass with ``preset``, ``positively_homogeneous`` (whether the model
  is, e.g. a ReLU MLP: then the probe also requires its train loss not to rise with w;
  `reduced_dynamics.names.HOMOGENEOUS_ACTIVATIONS`) and ``to_dict()`` (stored whole in every
  file as ``config_json``), and its presets; optionally ``loss_name`` ("MSE",
  "cross-entropy": `reduced_dynamics.names`) and ``theta_description`` (which parameters
  form θ, in words), torch-free, which the files' long names quote;
* a torch adapter, a subclass of `TorchTask`: an ordinary ``nn.Module`` for a seed, which of
  its parameters form θ, the data, the loss and accuracy of one member, and optionally a
  representation line R(m) and a data-size subset rule;
* a `TaskEntry` naming both, with the task's default probe and training settings,
  registered in `reduced_dynamics.tasks`.

The engine owns the batching (`reduced_dynamics.batching`): a task never sees more than
one member. Importing this module needs neither torch nor matplotlib: the adapter is
imported when `TaskEntry.torch_task` is called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reduced_dynamics.checks import (
    SEED_MAX,
    check_bool,
    check_float_tuple,
    check_ints,
    check_real,
    check_seed,
    check_str,
    check_type,
    plain_fields,
)
from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.errors import InputError, shown
from reduced_dynamics.names import PRESET_STUDY_FIELDS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn


class TorchTask:
    """Torch view of a task; subclass it and fill in the marked parts.

    A *member* is one network: a grid point of a probe or a run of a sweep. Every method
    below is written for one member (tensors without a member axis); the engine vmaps
    them (`reduced_dynamics.batching`). ``index`` selects examples of a split (a
    LongTensor of positions, None: all of them) and ``weight`` weighs them (None: equally):
    the loss and the accuracy are (weighted) means over examples, so minibatches and
    training-set subsets need nothing more from a task. The built-in tasks also accept
    leading member axes, which the bmm fast path and the tests use.

    Subclasses implement ``new_module``, ``n_examples``, ``inputs``, ``loss`` and
    ``accuracy``, and may set:

    * ``theta_names`` — the parameters of the module that form θ, the norm group whose
      norm is w (SPEC §2); None (default): all of them. The others (e.g. a trainable
      representation inside the module) are trained with the representation's learning
      rate and kept out of the norm.
    * ``r_lin``, ``r_rand`` — the representation line R(m) = m R_rand + (1 - m) R_lin
      (SPEC §3): a task with m feeds one member's R into ``inputs(rep, ...)``.
    * ``subset_seed`` — the data-size subset rule (SPEC §11): a member with n_train = N
      trains on the first N examples of one permutation of the training set drawn with
      this seed, so a smaller set is inside every larger one. None: no n_train axis.
    * ``vectorized`` — True where ``inputs``, ``loss`` and ``accuracy`` also take tensors
      with a leading member axis (and a shared ``index``): the engine then calls them once
      instead of through ``vmap`` (less overhead per step; same numbers).
    * ``batch_path`` — how the members are batched (`reduced_dynamics.batching.build`):
      "auto" (default: a fast path, else vmap where a dry run of it works, else a loop),
      "vmap" or "loop" (e.g. a ``collate`` that builds each member's own graph batch).

    ``collate`` may be overridden where the module's ``forward`` takes more than one
    tensor (default: ``inputs``).
    """

    theta_names: tuple[str, ...] | None = None
    vectorized: bool = False
    batch_path: str = "auto"
    r_lin: torch.Tensor | None = None
    r_rand: torch.Tensor | None = None
    subset_seed: int | None = None

    def __init__(self, config: Any, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        import torch

        self.config = config
        self.dtype = torch.float32 if dtype is None else dtype
        self.device = torch.device(device)
        self._w0: dict[int, float] = {}
        self._order: torch.Tensor | None = None

    # ------------------------------------------------------------------ to implement

    def new_module(self) -> nn.Module:
        """A new network at PyTorch's default init (the caller seeds the RNG)."""
        raise NotImplementedError

    def n_examples(self, split: str) -> int:
        """Number of examples of ``split`` ("train" or "test")."""
        raise NotImplementedError

    def inputs(self, rep: torch.Tensor | None, split: str,
               index: torch.Tensor | None = None) -> Any:
        """One member's network input for the examples ``index`` of ``split``, built from
        its representation ``rep`` (None for a task without m)."""
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """One member's training objective (no weight decay): a mean over the examples."""
        raise NotImplementedError

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """One member's fraction of correct examples."""
        raise NotImplementedError

    def check_seed(self, seed: int) -> int:
        """Refuse init seeds the task cannot use (default: none)."""
        return int(seed)

    def collate(self, rep: torch.Tensor | None, split: str,
                index: torch.Tensor | None = None) -> Any:
        """One member's module inputs for the examples ``index`` of ``split``: a tensor
        (``forward``'s one argument), a tuple (its positional arguments) or a dict (keyword
        arguments), of tensors or pytrees of them — e.g. a batch of graphs ``(x,
        edge_index, edge_attr, batch)``, or padded token sequences and their lengths.
        Default: ``inputs(rep, split, index)``, one argument."""
        return self.inputs(rep, split, index)

    # ------------------------------------------------------------------ provided

    @property
    def has_m(self) -> bool:
        return self.r_lin is not None

    @property
    def has_subsets(self) -> bool:
        return self.subset_seed is not None

    def tensor(self, values: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``values`` on the task's device; floating point in the task's dtype."""
        import torch

        t = torch.as_tensor(values)
        if dtype is None and t.is_floating_point():
            dtype = self.dtype
        return t.to(device=self.device, dtype=dtype)

    def make_module(self, seed: int) -> nn.Module:
        """``new_module()`` at PyTorch's default init for ``seed`` (a forked RNG: the
        global RNG is untouched), on the CPU in float32 as a user would build it."""
        from reduced_dynamics.batching.stacking import init_at_seed

        return init_at_seed(self.new_module, self.check_seed(seed))

    def theta(self, module: nn.Module) -> list[torch.Tensor]:
        """The parameters of ``module`` that form θ, in module order."""
        names = None if self.theta_names is None else set(self.theta_names)
        return [p for n, p in module.named_parameters() if names is None or n in names]

    def w0(self, seed: int) -> float:
        """``||θ||_2`` at the default init for ``seed`` (float64; computed once)."""
        seed = int(seed)
        if seed not in self._w0:
            import torch

            with torch.no_grad():
                sq = sum(p.detach().double().pow(2).sum() for p in
                         self.theta(self.make_module(seed)))
            self._w0[seed] = float(torch.sqrt(sq))
        return self._w0[seed]

    def init_params(self, seed: int) -> list[torch.Tensor]:
        """θ at the default init for ``seed``, detached float64 copies in module order."""
        return [p.detach().double().clone() for p in self.theta(self.make_module(seed))]

    def representation(self, m: torch.Tensor) -> torch.Tensor:
        """R(m) = m R_rand + (1 - m) R_lin for ``m`` of any shape -> ``m.shape + R.shape``."""
        if self.r_lin is None:
            raise InputError("this task has no representation coordinate m")
        m = m.reshape(*m.shape, *([1] * self.r_lin.dim()))
        return m * self.r_rand + (1 - m) * self.r_lin

    def subset_order(self) -> torch.Tensor:
        """The permutation of the training examples whose first N form the n_train = N
        subset (SPEC §11); drawn once with ``subset_seed`` (numpy ``default_rng``)."""
        if self.subset_seed is None:
            raise InputError("this task has no data-size subset rule: it cannot be probed "
                             "or trained on an n_train axis")
        if self._order is None:
            import numpy as np

            order = np.random.default_rng(self.subset_seed).permutation(
                self.n_examples("train"))
            self._order = self.tensor(order)
        return self._order

    def check_n_train(self, n_train: np.ndarray) -> np.ndarray:
        """Training-set sizes for members: integers in [1, n_examples('train')]."""
        import numpy as np

        n_max = self.n_examples("train")
        values = np.asarray(n_train)
        if self.subset_seed is None:
            raise InputError(f"`n_train`: this task has no data-size subset rule; drop it "
                             f"(got {values.ravel().tolist()[:8]})")
        if (values.size == 0 or not np.all(np.round(values) == values)
                or values.min() < 1 or values.max() > n_max):
            raise InputError(f"`n_train` must be integers in [1, {n_max}] (the training "
                             f"set of this task), got {values.ravel().tolist()[:8]}")
        return values.astype(np.int64)


def example_mean(values: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the last axis (the examples), weighted by ``weight`` where given:
    ``sum_i weight_i values_i / sum_i weight_i`` (0 where every weight is 0, with a zero
    gradient: a chunk of examples outside a member's subset)."""
    if weight is None:
        return values.mean(-1)
    import torch

    total = weight.sum(-1).clamp_min(torch.finfo(values.dtype).tiny)
    return (values * weight).sum(-1) / total


def check_config_protocol(name: str, config: Any, config_type: type) -> None:
    """A task config is an instance of its entry's ``config_type`` with a string ``preset``,
    a ``to_dict()`` and a bool ``positively_homogeneous``; `InputError` naming what is
    missing otherwise."""
    if not isinstance(config, config_type):
        raise InputError(f"`{name}` must be a {config_type.__name__}, got "
                         f"{type(config).__name__}")
    missing = [attr for attr in ("preset", "to_dict", "positively_homogeneous")
               if not hasattr(config, attr)]
    if missing:
        raise InputError(f"`{name}` lacks {', '.join(missing)}: a task config has a `preset` "
                         "name, `to_dict()` and a bool `positively_homogeneous` (whether the "
                         "model is, e.g. a ReLU MLP; see reduced_dynamics.tasks.base)")
    if not isinstance(config.preset, str) or not isinstance(config.positively_homogeneous,
                                                            bool):
        raise InputError(f"`{name}`: `preset` must be a str and `positively_homogeneous` a "
                         f"bool, got {config.preset!r} and {config.positively_homogeneous!r}")


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
    # the study defaults, typed (a number or a sequence of numbers, stored as a tuple of
    # floats): `train`'s `--alpha0` (its first value is alpha of `predict`'s default start)
    # and weight decays (`train` and `predict`)
    alpha0: tuple[float, ...] = (1.0,)
    m0: float = 0.0  # default `--m0` of `train` (and m of `predict`'s default start)
    gammas: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    first_seed: int = 0  # `--seeds N` (a count) means seeds first_seed .. first_seed+N-1
    # A preset's own study defaults (name -> {field: value}, `PRESET_STUDY_FIELDS`; e.g.
    # liu2022's start (1, 1)), applied by `for_preset`.
    preset_studies: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        if not isinstance(self.name, str) or not self.name or " " in self.name:
            raise InputError(f"`TaskEntry.name` must be a non-empty word, got {shown(self.name)}")
        field = f"TaskEntry({self.name!r})."
        for name, positive in (("alpha0", True), ("gammas", False)):
            object.__setattr__(self, name, check_float_tuple(
                field + name, getattr(self, name), positive))
        check_str(field + "description", self.description)
        check_type(field + "config_type", self.config_type, type, "a class (the task's "
                   "config dataclass)")
        for name, kind in (("presets", None), ("probe_presets", ProbeConfig)):
            table = getattr(self, name)
            what = "ProbeConfig instances" if kind else "task configs"
            if not (isinstance(table, Mapping) and table and all(isinstance(k, str) and (
                    kind is None or isinstance(v, kind)) for k, v in table.items())):
                raise InputError(f"`{field}{name}` must be a non-empty mapping of preset "
                                 f"names to {what}, got {shown(table)}")
        wrong = [k for k, v in self.presets.items() if not isinstance(v, self.config_type)]
        if wrong:
            raise InputError(f"`{field}presets` must hold configs of `{field}config_type` = "
                             f"{shown(self.config_type)}, got {shown(self.presets[wrong[0]])} "
                             f"for preset {wrong[0]!r}")
        module, _, cls = (self.adapter if isinstance(self.adapter, str) else "").partition(":")
        if not (module and cls and ":" not in cls):
            raise InputError(f"`{field}adapter` must be 'module:Class' (the torch adapter), "
                             f"got {shown(self.adapter)}")
        check_bool(field + "has_m", self.has_m)
        check_type(field + "train", self.train, TrainConfig, "a TrainConfig")
        for name in ("probe_seeds", "train_seeds"):
            object.__setattr__(self, name, check_ints(field + name, getattr(self, name), 0,
                                                      SEED_MAX))
        check_real(field + "m0", self.m0, low=0.0, high=1.0)
        check_seed(field + "first_seed", self.first_seed)
        for key, config in self.presets.items():
            check_config_protocol(f"TaskEntry({self.name!r}).presets[{key!r}]", config,
                                  self.config_type)
        studies = self.preset_studies
        if not (isinstance(studies, Mapping) and all(
                k in self.presets and isinstance(v, Mapping) and set(v) <= set(
                    PRESET_STUDY_FIELDS) for k, v in studies.items())):
            raise InputError(f"`{field}preset_studies` must map presets of this task "
                             f"{sorted(self.presets)} to {{field: value}} of "
                             f"{list(PRESET_STUDY_FIELDS)}, got {shown(studies)}")
        for key in studies:
            self.for_preset(key)  # its values checked as the entry's own

    def for_preset(self, name: str | None) -> TaskEntry:
        """This entry with preset ``name``'s own study defaults (`preset_studies`), if any."""
        own = self.preset_studies.get(name) if name is not None else None
        if not own:
            return self
        return dataclasses.replace(self, **own, preset_studies={})

    def preset(self, name: str | None = None, **overrides) -> Any:
        """The named task preset (None: the task's first, its default), with any fields
        replaced."""
        if name is None:
            name = next(iter(self.presets))
        if name not in self.presets:
            raise InputError(f"`preset` of task {self.name!r} must be one of "
                             f"{sorted(self.presets)}, got {name!r}")
        return dataclasses.replace(self.presets[name], **overrides)

    def has_m_for(self, config: Any) -> bool:
        """Whether ``config`` has an m axis: the config's own ``has_m`` where it defines one
        (a task whose presets differ, e.g. images with and without a representation line),
        else the entry's ``has_m``."""
        return bool(getattr(config, "has_m", self.has_m))

    def loss_name_for(self, config: Any) -> str | None:
        """The loss of ``config`` as files name it (the config's ``loss_name``: "MSE",
        "cross-entropy"); None for a config that names none."""
        name = getattr(config, "loss_name", None)
        return None if name is None else str(name)

    def theta_for(self, config: Any) -> str | None:
        """Which parameters form θ (whose norm is w), in words (the config's
        ``theta_description``); None for a config that says not."""
        text = getattr(config, "theta_description", None)
        return None if text is None else str(text)

    def probe_preset(self, name: str) -> ProbeConfig:
        """Default probe settings for the named task preset."""
        if name not in self.probe_presets:
            raise InputError(f"task {self.name!r} has no probe preset {name!r}; it has "
                             f"{sorted(self.probe_presets)}")
        return self.probe_presets[name]

    def torch_task(self, config: Any, dtype: torch.dtype | None = None,
                   device: str | torch.device = "cpu") -> TorchTask:
        """The torch adapter of ``config`` (imports torch). ``adapter`` is
        "module:Class", the module in this package (built-in tasks) or importable."""
        module, cls = self.adapter.split(":")
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError:
            mod = importlib.import_module(module)
        return getattr(mod, cls)(config, dtype, device)


REGISTRY: dict[str, TaskEntry] = {}


def register(entry: TaskEntry) -> TaskEntry:
    """Add a task to the registry. Names and config types are unique: a second, different
    task of a name already registered is refused (registering the same entry again is a
    no-op)."""
    if not isinstance(entry, TaskEntry):
        raise InputError(f"`register` takes a TaskEntry, got {type(entry).__name__}")
    if REGISTRY.get(entry.name) is entry:
        return entry
    if entry.name in REGISTRY:
        raise InputError(f"a task named {entry.name!r} is already registered (by "
                         f"{REGISTRY[entry.name].adapter}); unregister it first or choose "
                         "another name")
    for other in REGISTRY.values():
        if other.config_type is entry.config_type:
            raise InputError(f"config type {entry.config_type.__name__} is already "
                             f"registered by task {other.name!r}")
    REGISTRY[entry.name] = entry
    entry.config_type.task_entry = entry  # a config knows its task: no lookup by type later
    return entry


@contextlib.contextmanager
def registered_while(entry: TaskEntry) -> Iterator[TaskEntry]:
    """``entry`` in the task registry for the duration of a ``with`` block (a test's or a
    notebook's temporary task)."""
    register(entry)
    try:
        yield entry
    finally:
        unregister(entry.name)


def unregister(name: str) -> None:
    """Remove a task (tests register temporary ones); its configs no longer know it."""
    entry = REGISTRY.pop(name, None)
    if entry is not None and entry.config_type.__dict__.get("task_entry") is entry:
        del entry.config_type.task_entry


def get_task(name: str) -> TaskEntry:
    """The registered task ``name``; `InputError` listing the known tasks otherwise."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise InputError(f"`task` must be one of {list(REGISTRY)}, got {shown(name)}")
    return REGISTRY[name]


def with_field_defaults(task: str | None, stored: dict) -> dict:
    """A stored task config (``config_json``'s ``task``) with the fields its file lacks
    filled in from the registered config type's defaults.

    A field added to a config type later defaults to the behaviour before it existed (e.g.
    toy addition's ``test_set="held_out"``), so an older file compares equal to a new one
    made with the same settings. An unknown task is returned as stored."""
    entry = REGISTRY.get(task) if isinstance(task, str) else None
    if entry is None or not dataclasses.is_dataclass(entry.config_type):
        return stored
    out = dict(stored)
    for f in dataclasses.fields(entry.config_type):
        if f.name not in out and f.default is not dataclasses.MISSING:
            default = f.default
            out[f.name] = list(default) if isinstance(default, tuple) else default
    return out


def task_of(config: Any) -> TaskEntry:
    """The task ``config`` belongs to: `register` gives every config type its entry, so the
    config passed down carries its task (no search of the registry by type)."""
    entry = getattr(config, "task_entry", None)
    if not isinstance(entry, TaskEntry):
        raise InputError(f"`task` must be the config of a registered task (e.g. "
                         f"`get_task('toy-addition').preset()`), got {shown(config)}: no "
                         f"registered task has config type {type(config).__name__}; known "
                         f"tasks: {list(REGISTRY)}")
    return entry


def torch_task(config: Any, dtype: torch.dtype | None = None,
               device: str | torch.device = "cpu") -> TorchTask:
    """The torch adapter of a task config (imports torch)."""
    return task_of(config).torch_task(config, dtype, device)


@functools.lru_cache(maxsize=16)
def _w0_adapter(config: Any) -> TorchTask:
    import torch

    return torch_task(config, torch.float64)


def adapter_of(config: Any) -> TorchTask:
    """The float64 torch adapter of ``config``, built once per config (unhashable: anew)."""
    try:
        return _w0_adapter(config)
    except TypeError:  # an unhashable config: no cache
        import torch

        return torch_task(config, torch.float64)


def has_representation(config: Any) -> bool:
    """Whether training ``config`` has a representation for eta_r and weight decay on it:
    an m coordinate, or parameters outside θ (`TorchTask.theta_names`)."""
    tt = adapter_of(config)
    return bool(tt.has_m or tt.theta_names is not None)


def w0_of(config: Any, seed: int) -> float:
    """w0 = ||θ|| at PyTorch's default init for ``seed`` (`TorchTask.w0` of the task's
    adapter, in float64), computed once per (config, seed)."""
    return adapter_of(config).w0(int(seed))
