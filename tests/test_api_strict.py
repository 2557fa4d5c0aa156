"""The Python API is as strict as the CLI (issue 18, item 7).

Every config dataclass (the task configs of ``reduced_dynamics/tasks/*.py`` and their
`TaskEntry`, `ProbeConfig`, `TrainConfig`, `RunSet`, `ProbeGrid`, the engine's
`EventOptions`, `SolverOptions`, `InterpolantOptions`) and every public function of
``reduced_dynamics`` checks the types and values of its arguments before it does anything:
a wrong one is one `InputError` (a ValueError) naming the argument and showing the value;
a right one gives the object or the result.

The constructors are searched by hypothesis field by field: each field gets values from a
mix of right ones, values at and past its bounds and values of other types, and a short
readable rule per field (`Int`, `Real`, ... below; the documented rules, written apart from
the package's own checkers) says which must be accepted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import reduced_dynamics as rd
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import PHASE_AXES
from reduced_dynamics.phases import PhaseThresholds, phase_dataset
from reduced_dynamics.tasks.images import ImagesConfig
from reduced_dynamics.tasks.modular_addition import ModularAdditionConfig
from reduced_dynamics.tasks.molecules import MoleculesConfig
from reduced_dynamics.tasks.teacher_student import TeacherStudentConfig
from reduced_dynamics.tasks.text import TextConfig
from reduced_dynamics.tasks.toy_addition import ToyAdditionConfig

SEED_MAX = 2**32 - 1
F32_MAX = float(np.finfo(np.float32).max)
F64_MAX = float(np.finfo(np.float64).max)


# --------------------------------------------------------------- the rules, one per kind
def is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_))


def is_sequence(v: object) -> bool:
    """A list, tuple or 1-D array (a string, a set, a number is not)."""
    return isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim == 1)


def plain(v: object) -> object:
    """What a config holds for ``v``: a numpy scalar as the Python number or bool it is."""
    return v.item() if isinstance(v, np.generic) else v


def items(v: object) -> list:
    return [plain(x) for x in (v.tolist() if isinstance(v, np.ndarray) else v)]


def in_bounds(x: float, low, low_open, high, high_open) -> bool:
    return ((low is None or (x > low if low_open else x >= low))
            and (high is None or (x < high if high_open else x <= high)))


# Values of every kind, for every field: the wrong ones among them must be refused.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1.5, 10.5, -0.0]),
    st.text(max_size=4), st.sampled_from(["1", "0.1", "30,60", "relu", "digits", "a:b"]),
    st.integers(-3, 300).map(np.int64), st.floats(-1, 300).map(np.float64),
    st.sampled_from([np.bool_(True), object(), b"1", {1, 2}, {"a": 1}]),
)
ANY = st.one_of(
    SCALARS,
    st.lists(st.one_of(st.integers(-3, 300), st.floats(-1, 300), st.booleans(),
                       st.none(), st.text(max_size=2)), max_size=3),
    st.lists(st.integers(-3, 300), max_size=3).map(tuple),
    st.lists(st.floats(-1, 300), max_size=3).map(np.array),
    st.just(np.zeros((2, 2))),
)


@dataclass(frozen=True)
class Kind:
    """A field's rule: ``accepts`` (the values that must work), ``good`` (a strategy of
    them), ``stored`` (what the object holds for an accepted value)."""

    def accepts(self, v: object) -> bool:
        raise NotImplementedError

    def good(self) -> st.SearchStrategy:
        raise NotImplementedError

    def stored(self, v: object) -> object:
        return plain(v)

    def values(self) -> st.SearchStrategy:
        return st.one_of(self.good(), self.good(), self.edges(), ANY)

    def edges(self) -> st.SearchStrategy:
        return st.nothing()


@dataclass(frozen=True)
class Int(Kind):
    low: int
    high: int | None = None

    def accepts(self, v):
        return is_int(v) and v >= self.low and (self.high is None or v <= self.high)

    def good(self):
        top = self.high if self.high is not None else self.low + 10**12
        return st.one_of(st.integers(self.low, top), st.integers(self.low, top).map(np.int64)
                         if top < 2**63 else st.nothing())

    def edges(self):
        near = [self.low - 1, self.low, float(self.low)]
        if self.high is not None:
            near += [self.high, self.high + 1, float(self.high)]
        return st.sampled_from(near)


@dataclass(frozen=True)
class Seed(Int):
    low: int = 0
    high: int | None = SEED_MAX


@dataclass(frozen=True)
class Real(Kind):
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    def accepts(self, v):
        return is_real(v) and math.isfinite(float(v)) and in_bounds(
            float(v), self.low, self.low_open, self.high, self.high_open)

    def good(self):
        return st.floats(self.low, self.high, exclude_min=self.low_open and self.low is not
                         None, exclude_max=self.high_open and self.high is not None,
                         allow_nan=False, allow_infinity=False)

    def edges(self):
        near = [b + d for b in (self.low, self.high) if b is not None for d in (-1e-9, 0, 1e-9)]
        return st.sampled_from(near or [0.0])


@dataclass(frozen=True)
class Bool(Kind):
    def accepts(self, v):
        return isinstance(v, (bool, np.bool_))

    def good(self):
        return st.one_of(st.booleans(), st.booleans().map(np.bool_))

    def edges(self):
        return st.sampled_from([0, 1, "True", None])


@dataclass(frozen=True)
class Choice(Kind):
    choices: tuple[str, ...]

    def accepts(self, v):
        return isinstance(v, str) and v in self.choices

    def good(self):
        return st.sampled_from(self.choices)

    def edges(self):
        return st.sampled_from([c.upper() for c in self.choices] + [[self.choices[0]]])


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty string (``no_space``: a word)."""

    no_space: bool = False

    def accepts(self, v):
        return isinstance(v, str) and bool(v) and not (self.no_space and " " in v)

    def good(self):
        return st.text(min_size=1, max_size=8).filter(self.accepts)

    def edges(self):
        return st.sampled_from(["", " ", "a b"])


@dataclass(frozen=True)
class Ints(Kind):
    """A non-empty sequence of ints in [low, high], stored as a tuple of ints."""

    low: int
    high: int | None = None

    def accepts(self, v):
        return is_sequence(v) and len(v) > 0 and all(
            Int(self.low, self.high).accepts(x) for x in items(v))

    def good(self):
        element = Int(self.low, self.high).good()
        return st.one_of(st.lists(element, min_size=1, max_size=3),
                         st.lists(element, min_size=1, max_size=3).map(tuple))

    def stored(self, v):
        return tuple(int(x) for x in items(v))

    def edges(self):
        return st.sampled_from([self.low, [self.low - 1], [float(self.low)], [], [True]])


@dataclass(frozen=True)
class Optional(Kind):
    kind: Kind

    def accepts(self, v):
        return v is None or self.kind.accepts(v)

    def good(self):
        return st.one_of(st.none(), self.kind.good())

    def stored(self, v):
        return None if v is None else self.kind.stored(v)

    def edges(self):
        return self.kind.edges()


@dataclass(frozen=True)
class Rule(Kind):
    """A rule of its own: ``rule(v)``, right values ``examples``."""

    rule: Callable[[object], bool]
    examples: st.SearchStrategy
    store: Callable[[object], object] = plain
    near: tuple = ()

    def accepts(self, v):
        return bool(self.rule(v))

    def good(self):
        return self.examples

    def stored(self, v):
        return self.store(v)

    def edges(self):
        return st.sampled_from(self.near) if self.near else st.nothing()


# ----------------------------------------------------------------------- the constructors
@dataclass(frozen=True)
class Field:
    kind: Kind
    base: dict = field(default_factory=dict)  # other fields, so the rule is the field's own
    names: tuple[str, ...] = ()  # how a message may name it (default: the field's name)


def flat(v: object) -> list | None:
    """The numbers of a number, or of a (nested) list, tuple or array; None if it holds
    anything else (or is ragged)."""
    if isinstance(v, np.ndarray):
        return v.ravel().tolist() if v.dtype.kind in "iuf" else None
    if isinstance(v, (list, tuple)):
        parts = [flat(x) for x in v]
        if any(p is None for p in parts) or len({np.ndim(x) for x in v}) > 1:
            return None
        return [x for p in parts for x in p]
    return [v] if is_real(v) else None


def numbers(positive: bool) -> Rule:
    """TaskEntry.alpha0 / gammas: a number or a non-empty (nested) sequence of numbers
    (> 0 or >= 0), flattened and stored as a tuple of floats."""
    def ok(x):
        return is_real(x) and math.isfinite(float(x)) and (x > 0 if positive else x >= 0)

    def rule(v):
        values = flat(v)
        return values is not None and len(values) > 0 and all(map(ok, values))

    good = Real(0.0, positive, 1e6).good()
    return Rule(rule, st.one_of(good, st.lists(good, min_size=1, max_size=3)),
                lambda v: tuple(float(x) for x in flat(v)),
                near=(0, 0.0, -1e-9, [0.0], [], [True], True))


def toy_entry() -> rd.tasks.TaskEntry:
    return rd.get_task("toy-addition")


def replace_entry(**kwargs):
    """The toy entry with ``kwargs`` replaced; its preset_studies (liu2022's) dropped, as
    other presets need not have liu2022."""
    return dataclasses.replace(toy_entry(), **{"preset_studies": {}, **kwargs})


def modular_fraction(v: object) -> bool:
    """ModularAdditionConfig.train_fraction (p = 113): one training and one test pair."""
    return Real(0.0, True, 1.0, True).accepts(v) and 1 <= round(v * 113**2) < 113**2


def adam_limit(beta1: float = 0.9, dtype_max: float = F32_MAX) -> float:
    """Adam's first step lr / (1 - beta1) must be a finite float: lr below this."""
    return dtype_max * (1.0 - beta1)


def grid_axis(low: float, high: float | None, low_open: bool) -> Rule:
    """ProbeGrid.w / m: a non-empty sequence of finite, strictly increasing numbers."""
    def rule(v):
        if not (is_sequence(v) and len(v) > 0 and all(
                Real(low, low_open, high).accepts(x) for x in items(v))):
            return False
        return bool(np.all(np.diff(np.asarray(items(v), float)) > 0))

    good = st.lists(Real(low, low_open, high).good(), min_size=1, max_size=4,
                    unique=True).map(sorted).filter(rule)
    return Rule(rule, good, lambda v: tuple(items(v)), near=((1.0, 1.0), (2.0, 1.0), ()))


def distinct_seeds(v: object) -> bool:
    return Ints(0, SEED_MAX).accepts(v) and len(set(items(v))) == len(v)


def increasing_sizes(v: object) -> bool:
    return v is None or (Ints(1).accepts(v) and bool(np.all(np.diff(items(v)) > 0)))


def column(kind: Kind) -> Rule:
    """A RunSet column of a one-run set: a sequence of one right value, stored as a tuple."""
    return Rule(lambda v: is_sequence(v) and len(v) == 1 and kind.accepts(items(v)[0]),
                st.one_of(kind.good().map(lambda x: [x]), kind.good().map(lambda x: (x,))),
                lambda v: tuple(items(v)), near=((), (1.0, 2.0), [True]))


def sweep_column(kind: Kind) -> Rule:
    """A RunSet.sweep argument: a non-empty sequence of right values."""
    return Rule(lambda v: is_sequence(v) and len(v) > 0 and all(map(kind.accepts, items(v))),
                st.lists(kind.good(), min_size=1, max_size=2), near=((), [True], "1"))


ONE_RUN = {"gamma": (0.1,), "seed": (0,), "alpha0": (1.0,), "m0": (0.0,)}
SWEEP = {"gammas": [0.1], "seeds": [0], "alpha0s": [1.0], "m0s": [0.0]}
GRID = {"w": (1.0, 2.0), "m": (0.0,), "seeds": (0,)}
PRESETS_OK = Rule(lambda v: isinstance(v, Mapping) and len(v) > 0 and all(
    isinstance(k, str) and isinstance(c, ToyAdditionConfig) for k, c in v.items()),
    st.just({"paper": ToyAdditionConfig()}), near=({}, {"paper": 1}, {1: ToyAdditionConfig()}))
PROBE_PRESETS_OK = Rule(lambda v: isinstance(v, Mapping) and len(v) > 0 and all(
    isinstance(k, str) and isinstance(c, rd.ProbeConfig) for k, c in v.items()),
    st.just({"paper": rd.ProbeConfig()}), near=({}, {"paper": None}))

CONSTRUCTORS: dict[str, tuple[Callable[..., Any], dict[str, Field]]] = {
    "ToyAdditionConfig": (ToyAdditionConfig, {
        "preset": Field(Text()),
        "p": Field(Int(2), {"n_train": 1}),
        "modular": Field(Bool()),
        "target_dim": Field(Int(1)),
        "rep_dim": Field(Int(1)),
        "linear_noise": Field(Real(0.0)),
        "hidden": Field(Ints(1)),
        "activation": Field(Choice(("relu", "leaky_relu", "tanh"))),
        "negative_slope": Field(Real(0.0)),
        "n_train": Field(Int(1, 54)),  # p = 10: 55 unordered pairs, one kept for the test
        "data_seed": Field(Seed()),
        "test_set": Field(Choice(("held_out", "all"))),
        "rep_range": Field(Real(0.0, True)),
        "train_acc_threshold": Field(Optional(Real(0.0, True, 1.0))),
        "grok_threshold": Field(Optional(Real(0.0, True, 1.0))),
    }),
    "TeacherStudentConfig": (TeacherStudentConfig, {
        "preset": Field(Text()),
        "d_in": Field(Int(1)), "d_out": Field(Int(1)),
        "hidden": Field(Ints(1)),
        "activation": Field(Choice(("tanh", "relu"))),
        "n_train": Field(Int(1)), "n_test": Field(Int(1)),
        "teacher_seed": Field(Seed()), "data_seed": Field(Seed()),
        "threshold": Field(Real(0.0, True)),
    }),
    "ModularAdditionConfig": (ModularAdditionConfig, {
        "preset": Field(Text()),
        "p": Field(Int(2)),
        "d_model": Field(Int(1)), "n_heads": Field(Int(1)), "d_head": Field(Int(1)),
        "d_mlp": Field(Int(1)),
        "train_fraction": Field(Rule(modular_fraction, st.floats(1e-4, 0.9999),
                                     near=(0.0, 1.0, 1e-6, 1 - 1e-6))),
        "data_seed": Field(Seed()),
    }),
    "ImagesConfig": (ImagesConfig, {
        "preset": Field(Text()),
        "dataset": Field(Rule(
            lambda v: isinstance(v, str) and (v in ("digits", "fashion-mnist") or (
                v.startswith("idx:") and len(v) > 4)),
            st.one_of(st.sampled_from(["digits", "fashion-mnist"]),
                      st.text(min_size=1, max_size=6).map(lambda s: "idx:" + s)),
            near=("idx:", "mnist", "IDX:/x", "fashion"))),
        "loss": Field(Choice(("mse", "ce"))),
        "hidden": Field(Ints(1)),
        "activation": Field(Choice(("relu",))),
        "n_train": Field(Int(1)), "test_size": Field(Int(1)),
        "n_test": Field(Optional(Int(1))),
        "data_seed": Field(Seed()),
        "representation": Field(Bool()),
        "grok_threshold": Field(Real(0.0, True, 1.0)),
    }),
    "TextConfig": (TextConfig, {
        "preset": Field(Text()),
        "dataset": Field(Rule(
            lambda v: isinstance(v, str) and (v == "imdb" or (
                v.startswith("csv:") and len(v) > 4)),
            st.one_of(st.just("imdb"), st.text(min_size=1, max_size=6).map(lambda s: "csv:" + s)),
            near=("csv:", "IMDB", "CSV:/x", "movie-reviews"))),
        "n_reviews": Field(Optional(Int(2))),
        "test_fraction": Field(Real(0.0, True, 1.0, True)),
        "n_train": Field(Optional(Int(1))),
        "vocab_size": Field(Int(1)), "skip_top": Field(Int(0)), "length": Field(Int(1)),
        "embed": Field(Int(1)), "hidden": Field(Int(1)), "layers": Field(Int(1)),
        "data_seed": Field(Seed()),
        "grok_threshold": Field(Real(0.0, True, 1.0)),
    }),
    "MoleculesConfig": (MoleculesConfig, {
        "preset": Field(Text()),
        "n_molecules": Field(Optional(Int(2, 130_831)), {"n_train": 1}),
        "n_train": Field(Int(1, 65_415)),
        "n_test": Field(Optional(Int(1, 65_416))),
        "data_seed": Field(Seed()),
        "conv": Field(Ints(1)),
        "readout": Field(Int(1)),
        "acc_tolerance": Field(Real(0.0, True)),
        "grok_on": Field(Choice(("loss",))),
        "grok_threshold": Field(Real(0.0, True)),
    }),
    "TaskEntry": (replace_entry, {
        "name": Field(Text(no_space=True), names=("TaskEntry.name",)),
        "description": Field(Text()),
        "config_type": Field(Rule(lambda v: isinstance(v, type) and all(
            isinstance(c, v) for c in toy_entry().presets.values()),
            st.sampled_from([ToyAdditionConfig, object]), near=(int, ImagesConfig))),
        "presets": Field(PRESETS_OK),
        "adapter": Field(Rule(lambda v: isinstance(v, str) and v.count(":") == 1
                              and all(v.split(":")), st.sampled_from(["m:C", "a.b:Cls"]),
                              near=("m", ":C", "m:", "a:b:c"))),
        "has_m": Field(Bool()),
        "probe_presets": Field(PROBE_PRESETS_OK),
        "train": Field(Rule(lambda v: isinstance(v, rd.TrainConfig),
                            st.just(rd.TrainConfig()), near=(rd.ProbeConfig(),))),
        "probe_seeds": Field(Ints(0, SEED_MAX)), "train_seeds": Field(Ints(0, SEED_MAX)),
        "alpha0": Field(numbers(positive=True)),
        "m0": Field(Real(0.0, False, 1.0)),
        "gammas": Field(numbers(positive=False)),
        "first_seed": Field(Seed()),
        # a preset this entry does not have, or a field a preset may not set: refused
        "preset_studies": Field(Rule(lambda v: isinstance(v, dict) and not v, st.just({}),
                                     near=({"nope": {"m0": 0.5}}, {"x": {"steps": 1}}))),
    }),
    "ProbeConfig": (rd.ProbeConfig, {
        "steps": Field(Int(10, 10**9)),
        "lr": Field(Real(0.0, True, adam_limit(), True)),
        "beta1": Field(Real(0.0, False, 1.0, True)), "beta2": Field(Real(0.0, False, 1.0, True)),
        "schedule": Field(Choice(("constant", "step", "cosine")), {"lr_decay_every": 1}),
        "lr_decay_every": Field(Int(0, 10**9)),
        "lr_decay_factor": Field(Real(0.0, True)),
        "lr_scaling": Field(Choice(("constant", "alpha"))),
        "dtype": Field(Choice(("float32", "float64"))),
        "rel_change_tol": Field(Real(0.0)), "abs_change_tol": Field(Real(0.0)),
        "monotone_tol": Field(Real(0.0)), "monotone_abs_tol": Field(Real(0.0)),
        "chunk_size": Field(Int(1)),
        "batch_size": Field(Optional(Int(1))),
        "shuffle_seed": Field(Seed()),
    }),
    "TrainConfig": (rd.TrainConfig, {
        "steps": Field(Int(1, 10**9), {"n_log": 1}),
        "eta_d": Field(Real(0.0, True, adam_limit(), True)),
        "eta_r": Field(Real(0.0, False, adam_limit(), True)),
        "beta1": Field(Real(0.0, False, 1.0, True)), "beta2": Field(Real(0.0, False, 1.0, True)),
        "eps": Field(Real(0.0, True)),
        "wd_representation": Field(Bool()),
        "n_log": Field(Int(1, 10**5), {"steps": 10**5}),
        "dtype": Field(Choice(("float32", "float64"))),
        "checkpoint_every": Field(Int(1)),
        "batch_size": Field(Optional(Int(1))),
        "shuffle_seed": Field(Seed()),
        "constrain_norm": Field(Bool()),
        "warmup_steps": Field(Int(0, 10**9), {"steps": 10**9}),
        "optimizer": Field(Choice(("adamw", "adam", "sgd"))),
        "momentum": Field(Real(0.0, False, 1.0, True), {"optimizer": "sgd"}),
        "start": Field(Choice(("init", "relaxed"))),
        "relax_steps": Field(Optional(Int(1, 10**9)), {"start": "relaxed"}),
    }),
    "RunSet": (lambda **kw: rd.RunSet(**{**ONE_RUN, **kw}), {
        "gamma": Field(column(Real(0.0))),
        "seed": Field(column(Seed())),
        "alpha0": Field(column(Real(0.0, True))),
        "m0": Field(column(Real(0.0, False, 1.0))),
        "n_train": Field(Optional(column(Int(1)))),
        "eta_d": Field(Optional(column(Real(0.0, True)))),
        "eta_r": Field(Optional(column(Real(0.0)))),
    }),
    "RunSet.sweep": (lambda **kw: rd.RunSet.sweep(**{**SWEEP, **kw}), {
        # the types are the sweep's (its argument named); the values are the run set's
        # (the column named, as on the command line: `m0` must be ...)
        "gammas": Field(sweep_column(Real(0.0)), names=("gammas", "gamma")),
        "seeds": Field(sweep_column(Seed()), names=("seeds", "seed")),
        "alpha0s": Field(sweep_column(Real(0.0, True)), names=("alpha0s", "alpha0")),
        "m0s": Field(sweep_column(Real(0.0, False, 1.0)), names=("m0s", "m0")),
        "n_trains": Field(Optional(sweep_column(Int(1))), names=("n_trains", "n_train")),
        "eta_ds": Field(Optional(sweep_column(Real(0.0, True))), names=("eta_ds", "eta_d")),
        "eta_rs": Field(Optional(sweep_column(Real(0.0))), names=("eta_rs", "eta_r")),
    }),
    "ProbeGrid": (lambda **kw: rd.ProbeGrid(**{**GRID, **kw}), {
        "w": Field(grid_axis(0.0, None, True)),
        "m": Field(grid_axis(0.0, 1.0, False)),
        "seeds": Field(Rule(distinct_seeds, st.lists(Seed().good(), min_size=1, max_size=3,
                                                     unique=True), Ints(0).stored,
                            near=((0, 0), (-1,), ()))),
        "n_train": Field(Rule(increasing_sizes, st.one_of(st.none(), st.lists(
            st.integers(1, 10**6), min_size=1, max_size=3, unique=True).map(sorted)),
            lambda v: None if v is None else Ints(1).stored(v), near=((2, 1), (0,), ()))),
    }),
    "EventOptions": (rd.EventOptions, {
        "theta_train": Field(Real(0.0, True)),
        "overfit_on": Field(Choice(("loss", "acc"))),
        "train_acc_threshold": Field(Real(0.0, True, 1.0)),
        "grok_on": Field(Choice(("loss", "acc")), {"theta_test": 0.1}),
        "acc_threshold": Field(Real(0.0, True, 1.0)),
        "theta_test": Field(Optional(Real(0.0, True))),
    }),
    "SolverOptions": (rd.SolverOptions, {
        "rtol": Field(Real(0.0, True)), "atol": Field(Real(0.0, True)),
        "t_max": Field(Optional(Real(1.0, True))),
        "t_first": Field(Real(0.0, True)),
        "n_times": Field(Int(2, 10**6)),
        "max_steps": Field(Int(1, 2**62)),
        "step_cap": Field(Optional(Real(0.0, True))),
        "stationary_rtol": Field(Real(0.0)), "stationary_atol": Field(Real(0.0)),
        "stop_at_grok": Field(Optional(Bool())),
        "fixed_step": Field(Optional(Real(0.0, True))),
        "record_sub": Field(Int(0, 1000)),
        "max_record": Field(Int(2, 10**7)),
        "parallel": Field(Bool()),
        "method": Field(Choice(("dopri5", "rosenbrock"))),
    }),
    "PhaseThresholds": (PhaseThresholds, {
        "train_acc": Field(Real(0.0, True, 1.0)),
        "test": Field(Real(0.0, True, 1.0)),
        "test_on": Field(Choice(("acc", "loss"))),
    }),
    "InterpolantOptions": (rd.InterpolantOptions, {
        "transform": Field(Choice(("log", "linear"))),
        "smoothing": Field(Real(0.0)),
        "monotone": Field(Bool()),
        "derivatives": Field(Choice(("spline", "pchip"))),
    }),
}
CASES = [(c, f) for c, (_, fields) in CONSTRUCTORS.items() for f in fields]


def test_every_field_of_every_config_is_covered():
    """The table covers each dataclass's fields, and each task config of the registry."""
    from reduced_dynamics.tasks import BUILTIN, get_task

    assert {get_task(n).config_type.__name__ for n in BUILTIN} <= set(CONSTRUCTORS)
    for name, cls in (("ToyAdditionConfig", ToyAdditionConfig),
                      ("TeacherStudentConfig", TeacherStudentConfig),
                      ("ModularAdditionConfig", ModularAdditionConfig),
                      ("ImagesConfig", ImagesConfig), ("TextConfig", TextConfig),
                      ("MoleculesConfig", MoleculesConfig),
                      ("TaskEntry", rd.tasks.TaskEntry),
                      ("ProbeConfig", rd.ProbeConfig), ("TrainConfig", rd.TrainConfig),
                      ("RunSet", rd.RunSet), ("ProbeGrid", rd.ProbeGrid),
                      ("EventOptions", rd.EventOptions), ("SolverOptions", rd.SolverOptions),
                      ("InterpolantOptions", rd.InterpolantOptions),
                      ("PhaseThresholds", PhaseThresholds)):
        assert set(CONSTRUCTORS[name][1]) == {f.name for f in dataclasses.fields(cls)}, name


def names_argument(message: str, names: tuple[str, ...]) -> bool:
    """The message names the argument: `name`, or a qualified `TaskEntry('x').name`."""
    return any(re.search(rf"`(?:[^`]*\.)?{re.escape(n)}`", message) for n in names)


def same(a: object, b: object) -> bool:
    """Equal, NaN-free values of the same Python kind (tuple, int, float, str, ...)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=3000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_constructors_take_right_values_and_name_wrong_ones(data):
    """Each field, one at a time: a value its rule accepts builds the object, which holds it
    (sequences as tuples, numpy scalars as Python ones); any other is one `InputError`
    naming the field and showing the value."""
    ctor_name, field_name = data.draw(st.sampled_from(CASES), label="field")
    ctor, fields = CONSTRUCTORS[ctor_name]
    spec = fields[field_name]
    value = data.draw(spec.kind.values(), label=field_name)
    kwargs = {**spec.base, field_name: value}
    event("right value" if spec.kind.accepts(value) else "wrong value")  # the mix explored
    if spec.kind.accepts(value):
        obj = ctor(**kwargs)
        if ctor_name != "RunSet.sweep":
            held = getattr(obj, field_name)  # the value, numpy scalars as Python ones
            assert same(held, spec.kind.stored(value)) or held is value, (held, value)
        if hasattr(obj, "to_dict"):
            json.dumps(obj.to_dict())  # a file can store it (config_json)
        return
    with pytest.raises(InputError) as err:
        ctor(**kwargs)
    message = str(err.value)
    assert "\n" not in message and "got " in message, message
    assert names_argument(message, spec.names or (field_name,)), (field_name, message)
    text = " ".join(repr(plain(value)).split())
    if not isinstance(value, (list, tuple, np.ndarray, set, dict)) and len(text) <= 60:
        assert text in message, (text, message)  # a scalar: the value shown


def test_the_sweep_is_every_combination_of_its_arguments():
    """A right sweep: lists, tuples and arrays give the same runs, eta_d slowest."""
    a = rd.RunSet.sweep([0.1, 0.2], (3, 4), np.array([1.0]), [0.0], n_trains=[30, 60],
                        eta_ds=(1e-3, 2e-3))
    b = rd.RunSet.sweep(np.array([0.1, 0.2]), [3, 4], [1.0], (0.0,), n_trains=np.array([30, 60]),
                        eta_ds=[1e-3, 2e-3])
    assert a == b and len(a) == 16
    assert a.eta_d[:8] == (1e-3,) * 8 and a.n_train[:4] == (30, 30, 60, 60)
    # then gamma, n_train, seed (alpha0 and m0 have one value each)
    assert a.gamma[:8] == (0.1,) * 4 + (0.2,) * 4 and a.seed[:4] == (3, 4, 3, 4)


# ------------------------------------------------------------------ the public functions
@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """What the function cases call: the shipped landscape (path, Dataset, prepared), a
    toy-addition config, a small valid probe and training run, a trajectory Dataset."""
    from reduced_dynamics.testing.synthetic import synthetic_landscape

    folder = tmp_path_factory.mktemp("api")
    path = rd.default_landscape()
    ds = rd.open_landscape(path)
    return {
        "dir": folder, "path": path, "ds": ds, "prep": rd.prepare_landscape(path),
        "synthetic": synthetic_landscape(),
        "task": rd.get_task("toy-addition").preset("paper"),
        "probe": rd.ProbeConfig(steps=10), "grid": rd.ProbeGrid((1.0, 2.0), (0.0,), (0,)),
        "cfg": rd.TrainConfig(steps=10, n_log=5),
        "runs": rd.RunSet((0.1,), (0,), (1.0,), (0.0,)),
        "report": xr.Dataset({"t_grok_measured": ("run", [1.0]), "gamma": ("run", [0.1])}),
        "phases": phase_dataset({"eta_d": np.array([1e-3, 1e-2]), "gamma": np.array([0.0, 1.0])},
                                np.zeros((2, 2)), np.full((2, 2), 10.0), T=1e5, tau=1e3,
                                thresholds=PhaseThresholds(), task={},
                                attrs={"diagram": "predicted", "landscape_source": "test",
                                       "title": "test", "history": "test"}),
    }


def not_path(v):
    return not (isinstance(v, os.PathLike) or (isinstance(v, str) and v))


def not_numbers(v):
    """Not a number, nor a (nested) sequence or array of numbers."""
    if isinstance(v, np.ndarray):
        return v.dtype.kind not in "iuf"
    if isinstance(v, (list, tuple)):
        return any(not_numbers(x) for x in v)
    return not is_real(v)


def not_int(v):
    return not is_int(v)


def not_bool(v):
    return not isinstance(v, (bool, np.bool_))


def not_str(v):
    return not isinstance(v, str)


def not_one_of(*types):
    return lambda v: not isinstance(v, types)


def not_optional(kind: type) -> Callable[[object], bool]:
    return lambda v: v is not None and not isinstance(v, kind)


def calling(fn: str, landscape: str, arg: str) -> Callable[[dict, object], Any]:
    """``rd.<fn>(api[landscape], <arg>=value)``."""
    return lambda a, v: getattr(rd, fn)(a[landscape], **{arg: v})


PHASE_GRID = {"alpha0": [20.0, 30.0], "m0": [0.1, 0.2]}


def phasing(arg: str) -> Callable[[dict, object], Any]:
    """``rd.predicted_phases(api["ds"], grid=PHASE_GRID, <arg>=value)``."""
    return lambda a, v: rd.predicted_phases(a["ds"], grid=PHASE_GRID, **{arg: v})


def measuring(arg: str) -> Callable[[dict, object], Any]:
    """``rd.measured_phases(<a missing file>, <arg>=value)``: refused before it is read."""
    return lambda a, v: rd.measured_phases(a["dir"] / "missing.nc", **{arg: v})


def not_axes(v: object) -> bool:
    return v is not None and not (isinstance(v, (list, tuple)) and len(v) == 2 and all(
        isinstance(x, str) and x in PHASE_AXES for x in v) and v[0] != v[1])


def probing(flag: str) -> Callable[[dict, object], Any]:
    return lambda a, v: rd.probe(a["task"], a["probe"], a["grid"], a["dir"] / "never.nc",
                                 **{flag: v})


def training(flag: str) -> Callable[[dict, object], Any]:
    return lambda a, v: rd.train(a["task"], a["cfg"], a["runs"], a["dir"] / "never.nc",
                                 **{flag: v})


# (function, argument, which values are wrong, call with the wrong value)
FUNCTION_CASES: list[tuple[str, str, Callable[[object], bool], Callable[[dict, object], Any]]] = [
    ("open_landscape", "path", not_path, lambda a, v: rd.open_landscape(v)),
    ("open_trajectories", "path", not_path, lambda a, v: rd.open_trajectories(v)),
    ("save_landscape", "ds", not_one_of(xr.Dataset),
     lambda a, v: rd.save_landscape(v, a["dir"] / "never.nc")),
    ("save_landscape", "path", not_path, lambda a, v: rd.save_landscape(a["ds"], v)),
    ("get_task", "task", lambda v: not (isinstance(v, str) and v in rd.tasks.REGISTRY),
     lambda a, v: rd.get_task(v)),
    ("prepare_landscape", "landscape", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.prepare_landscape(v)),
    ("prepare_landscape", "options", lambda v: v is not None and not isinstance(
        v, rd.InterpolantOptions), lambda a, v: rd.prepare_landscape(a["ds"], v)),
    ("prepare_landscape", "n_train", lambda v: v is not None and not_int(v),
     lambda a, v: rd.prepare_landscape(a["ds"], n_train=v)),
    ("prepare_landscape", "source", lambda v: v is not None and not_str(v),
     lambda a, v: rd.prepare_landscape(a["ds"], source=v)),
    *[(fn, arg, lambda v: v is not None and not_numbers(v), calling(fn, "prep", arg))
      for fn in ("integrate", "predict_grokking_times", "analyze_path")
      for arg in ("gamma", "eta_d", "eta_r", "starts" if fn == "integrate" else "start")],
    *[(fn, arg, not_optional(kind), calling(fn, "prep", arg))
      for fn in ("integrate", "predict_grokking_times", "analyze_path")
      for arg, kind in (("events", rd.EventOptions), ("solver", rd.SolverOptions),
                        ("interpolant", rd.InterpolantOptions))],
    *[(fn, "n_train", lambda v: v is not None and not_int(v) and not (
        isinstance(v, (list, tuple)) and v and all(map(is_int, v))),
       calling(fn, "path", "n_train"))
      for fn in ("integrate", "predict_grokking_times", "analyze_path")],
    *[(fn, "seed", lambda v: v is not None and not Int(0).accepts(v),
       calling(fn, "path", "seed"))
      for fn in ("integrate", "predict_grokking_times", "analyze_path", "prepare_landscape")],
    ("validate", "restarts", lambda v: not_str(v) or v not in ("own", "best"),
     lambda a, v: rd.validate(a["dir"] / "missing.nc", a["dir"] / "missing.nc", restarts=v)),
    ("integrate", "landscape", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.integrate(v)),
    ("study_defaults", "prep", lambda v: True, lambda a, v: rd.study_defaults(v)),
    ("study_defaults", "theta_train", lambda v: not Real(0.0, True).accepts(v),
     lambda a, v: rd.study_defaults(a["prep"], v)),
    ("validate", "landscape", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.validate(v, a["dir"] / "missing.nc")),
    ("validate", "runs", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.validate(a["dir"] / "missing.nc", v)),
    ("validate", "n_train", lambda v: v is not None and not Int(1).accepts(v),
     lambda a, v: rd.validate(a["dir"] / "missing.nc", a["dir"] / "missing.nc", n_train=v)),
    ("validate", "start", lambda v: v not in ("init", "peak") or not_str(v),
     lambda a, v: rd.validate(a["dir"] / "missing.nc", a["dir"] / "missing.nc", start=v)),
    ("probe", "task", lambda v: True,
     lambda a, v: rd.probe(v, a["probe"], a["grid"], a["dir"] / "never.nc")),
    ("probe", "probe", lambda v: True,
     lambda a, v: rd.probe(a["task"], v, a["grid"], a["dir"] / "never.nc")),
    ("probe", "grid", lambda v: True,
     lambda a, v: rd.probe(a["task"], a["probe"], v, a["dir"] / "never.nc")),
    ("probe", "output", not_path, lambda a, v: rd.probe(a["task"], a["probe"], a["grid"], v)),
    *[("probe", flag, not_bool, probing(flag)) for flag in ("resume", "progress", "overwrite")],
    ("probe", "history", not_str, lambda a, v: rd.probe(
        a["task"], a["probe"], a["grid"], a["dir"] / "never.nc", history=v)),
    ("probe", "executor", lambda v: v is not None, lambda a, v: rd.probe(
        a["task"], a["probe"], a["grid"], a["dir"] / "never.nc", executor=v)),
    ("train", "task", lambda v: True,
     lambda a, v: rd.train(v, a["cfg"], a["runs"], a["dir"] / "never.nc")),
    ("train", "cfg", lambda v: True,
     lambda a, v: rd.train(a["task"], v, a["runs"], a["dir"] / "never.nc")),
    ("train", "runs", lambda v: True,
     lambda a, v: rd.train(a["task"], a["cfg"], v, a["dir"] / "never.nc")),
    ("train", "output", not_path, lambda a, v: rd.train(a["task"], a["cfg"], a["runs"], v)),
    *[("train", flag, not_bool, training(flag)) for flag in ("resume", "progress", "overwrite")],
    ("train", "chunk_size", lambda v: v is not None and not Int(1).accepts(v),
     lambda a, v: rd.train(a["task"], a["cfg"], a["runs"], a["dir"] / "never.nc",
                           chunk_size=v)),
    ("plot_landscape", "boundary", lambda v: not Real(0.0, True).accepts(v),
     lambda a, v: rd.plot_landscape(a["ds"], boundary=v)),
    ("plot_landscape", "n_train", lambda v: v is not None and not_int(v),
     lambda a, v: rd.plot_landscape(a["ds"], n_train=v)),
    ("plot_landscape", "ds", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.plot_landscape(v)),
    ("plot_runs", "runs", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.plot_runs(v)),
    ("plot_runs", "max_rows", lambda v: not Int(1).accepts(v),
     lambda a, v: rd.plot_runs(a["dir"] / "missing.nc", max_rows=v)),
    ("plot_runs", "by", lambda v: v is not None and not_str(v),
     lambda a, v: rd.plot_runs(a["dir"] / "missing.nc", by=v)),
    ("plot_gamma", "pred", lambda v: True, lambda a, v: rd.plot_gamma(v)),
    ("plot_path", "path", lambda v: True, lambda a, v: rd.plot_path(a["prep"], v)),
    ("plot_path", "n_grid", lambda v: not Int(2).accepts(v),
     lambda a, v: rd.plot_path(a["prep"], None, n_grid=v)),
    ("plot_path_1d", "path", lambda v: True, lambda a, v: rd.plot_path_1d(a["prep"], v)),
    ("data_size_dependence", "landscape", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.data_size_dependence(v)),
    *[("data_size_dependence", arg, lambda v: v is not None and not_numbers(v),
       calling("data_size_dependence", "ds", arg)) for arg in ("gamma", "eta_d", "eta_r",
                                                               "start")],
    *[("data_size_dependence", arg, not_optional(kind), calling("data_size_dependence", "ds",
                                                               arg))
      for arg, kind in (("events", rd.EventOptions), ("solver", rd.SolverOptions),
                        ("interpolant", rd.InterpolantOptions))],
    ("data_size_dependence", "n_train", lambda v: v is not None and not_int(v) and not (
        isinstance(v, (list, tuple)) and v and all(map(is_int, v))),
     calling("data_size_dependence", "ds", "n_train")),
    ("data_size_dependence", "theta_train",
     lambda v: v is not None and not Real(0.0, True).accepts(v),
     calling("data_size_dependence", "ds", "theta_train")),
    ("data_size_dependence", "path_gamma", lambda v: v is not None and not Real(0.0).accepts(v),
     calling("data_size_dependence", "ds", "path_gamma")),
    ("data_size_dependence", "n_grid", lambda v: not Int(20, 2001).accepts(v),
     calling("data_size_dependence", "ds", "n_grid")),
    ("data_size_dependence", "source", lambda v: v is not None and not_str(v),
     calling("data_size_dependence", "ds", "source")),
    ("open_datasize", "path", not_path, lambda a, v: rd.open_datasize(v)),
    ("plot_datasize", "result", lambda v: True, lambda a, v: rd.plot_datasize(v)),
    ("predicted_phases", "landscape", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.predicted_phases(v, grid=PHASE_GRID)),
    ("predicted_phases", "grid", lambda v: True,
     lambda a, v: rd.predicted_phases(a["ds"], grid=v)),
    ("predicted_phases", "T", lambda v: not Real(1.0, True).accepts(v), phasing("T")),
    ("predicted_phases", "tau", lambda v: not Real(0.0).accepts(v), phasing("tau")),
    ("predicted_phases", "eta_d", lambda v: v is not None and not Real(0.0, True).accepts(v),
     phasing("eta_d")),
    *[("predicted_phases", arg, lambda v: v is not None and not Real(0.0).accepts(v),
       phasing(arg)) for arg in ("gamma", "eta_r")],
    ("predicted_phases", "start", lambda v: v is not None and not_numbers(v),
     phasing("start")),
    ("predicted_phases", "n_train", lambda v: v is not None and not Int(1).accepts(v),
     phasing("n_train")),
    *[("predicted_phases", arg, not_optional(kind), phasing(arg))
      for arg, kind in (("thresholds", PhaseThresholds), ("solver", rd.SolverOptions),
                        ("interpolant", rd.InterpolantOptions))],
    ("predicted_phases", "seed", lambda v: v is not None and not Int(0).accepts(v),
     phasing("seed")),
    ("predicted_phases", "source", lambda v: v is not None and not_str(v), phasing("source")),
    ("measured_phases", "runs", not_one_of(xr.Dataset, str, os.PathLike),
     lambda a, v: rd.measured_phases(v)),
    ("measured_phases", "T", lambda v: not Real(1.0, True).accepts(v), measuring("T")),
    ("measured_phases", "tau", lambda v: not Real(0.0).accepts(v), measuring("tau")),
    ("measured_phases", "axes", not_axes, measuring("axes")),
    ("measured_phases", "thresholds", not_optional(PhaseThresholds), measuring("thresholds")),
    ("measured_phases", "source", lambda v: v is not None and not_str(v), measuring("source")),
    ("compare_phases", "pred", lambda v: True, lambda a, v: rd.compare_phases(v, a["phases"])),
    ("compare_phases", "meas", lambda v: True, lambda a, v: rd.compare_phases(a["phases"], v)),
    ("open_phases", "path", not_path, lambda a, v: rd.open_phases(v)),
    ("plot_phases", "ds", lambda v: True, lambda a, v: rd.plot_phases(v)),
    ("plot_phase_comparison", "pred", lambda v: True,
     lambda a, v: rd.plot_phase_comparison(v, a["phases"])),
    ("plot_phase_comparison", "meas", lambda v: True,
     lambda a, v: rd.plot_phase_comparison(a["phases"], v)),
    ("plot_t_grok_vs_gamma", "report", lambda v: True,
     lambda a, v: rd.plot_t_grok_vs_gamma(v)),
    ("plot_validation_paths", "report", lambda v: True,
     lambda a, v: rd.plot_validation_paths(v, a["ds"])),
]


def test_every_public_function_has_cases():
    """Each function `reduced_dynamics` exports (not the classes) is called wrongly here."""
    functions = {n for n in rd.__all__ if callable(getattr(rd, n))
                 and not isinstance(getattr(rd, n), type)}
    covered = {fn for fn, *_ in FUNCTION_CASES} | {"default_landscape"}  # takes nothing
    assert functions == covered, functions ^ covered


@settings(max_examples=600, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_public_functions_name_a_wrong_argument_first(api, data):
    """A wrong argument is one `InputError` naming it, before anything is opened, probed,
    trained or written (the other arguments of the probe and training cases are right, and
    their outputs never appear)."""
    fn, arg, wrong, call = data.draw(st.sampled_from(FUNCTION_CASES), label="case")
    value = data.draw(ANY.filter(wrong), label=arg)
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        call(api, value)
    message = str(err.value)
    assert "\n" not in message, message
    assert names_argument(message, (arg,)), (fn, arg, message)
    assert time.perf_counter() - start < 5, (fn, arg, "checked late")
    assert not (api["dir"] / "never.nc").exists()


# ------------------------------------------------------------------- the named cases
NAMED = {  # issue 18 item 7: the call and the argument its error must name
    "open_landscape(None)": (lambda a: rd.open_landscape(None), "path"),
    'RunSet.sweep(..., "30,60")': (lambda a: rd.RunSet.sweep([0.1], [0], [1.0], [0.0], "30,60"),
                                   "n_trains"),
    "ImagesConfig(hidden=200)": (lambda a: ImagesConfig(hidden=200), "hidden"),
    "ImagesConfig(hidden=(200.5,))": (lambda a: ImagesConfig(hidden=(200.5,)), "hidden"),
    "ImagesConfig(n_train=10.5)": (lambda a: ImagesConfig(n_train=10.5), "n_train"),
    "ImagesConfig(data_seed=-1)": (lambda a: ImagesConfig(data_seed=-1), "data_seed"),
    "train(runs=None)": (lambda a: rd.train(a["task"], a["cfg"], None, a["dir"] / "never.nc"),
                         "runs"),
}


@pytest.mark.parametrize("case", list(NAMED))
def test_named_cases(api, case):
    call, arg = NAMED[case]
    with pytest.raises(InputError) as err:
        call(api)
    assert isinstance(err.value, ValueError)
    assert names_argument(str(err.value), (arg,)) and "got " in str(err.value), err.value


def test_checks_run_before_files_are_read(api):
    """validate and the openers refuse a wrong argument before looking for the files, and
    the probe refuses a wrong flag before computing anything (it would take minutes)."""
    with pytest.raises(InputError, match="`start` must be 'init' or 'peak'"):
        rd.validate(api["dir"] / "missing.nc", api["dir"] / "missing.nc", start="end")
    with pytest.raises(InputError, match="`resume` must be True or False, got 'no'"):
        rd.probe(api["task"], rd.ProbeConfig(), api["grid"], api["dir"] / "never.nc",
                 resume="no")
    assert not (api["dir"] / "never.nc").exists()


def test_right_arguments_of_other_kinds_still_work(api):
    """Arrays and numpy scalars where numbers go, Paths where paths go: the same results."""
    assert rd.open_landscape(Path(api["path"])).identical(rd.open_landscape(str(api["path"])))
    config = ImagesConfig(hidden=np.array([4, 5]), n_train=np.int64(40))
    assert config.hidden == (4, 5) and type(config.hidden[0]) is int
    assert rd.ProbeGrid(np.geomspace(1, 4, 3), (0.0,), [0]) == rd.ProbeGrid.no_m(
        np.geomspace(1, 4, 3), [0])
    assert rd.RunSet([0.1], [0], [1.0], [0.0]) == rd.RunSet((0.1,), (0,), (1.0,), (0.0,))
    with pytest.raises(InputError, match="has no n_train axis"):  # no longer ignored
        rd.predict_grokking_times(api["synthetic"], [1e-5], start=(30.0, 0.05), n_train=316)
    defaults = rd.study_defaults(api["prep"], np.float64(0.05))
    assert defaults.source == "task 'toy-addition'"
