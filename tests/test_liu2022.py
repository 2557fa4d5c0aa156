"""The `liu2022` preset of toy addition (SPEC §14): its model, data, thresholds and study
defaults, and that adding its fields left the other presets' stored configs unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from reduced_dynamics.errors import InputError
from reduced_dynamics.phases import PhaseThresholds
from reduced_dynamics.study import task_entry
from reduced_dynamics.tasks import get_task
from reduced_dynamics.tasks.base import TaskEntry
from reduced_dynamics.tasks.toy_addition import ToyAdditionConfig, make_data

ENTRY = get_task("toy-addition")


def test_the_preset_is_liu_et_al_2022s_toy():
    t = ENTRY.preset("liu2022")
    assert (t.p, t.n_train, t.target_dim, t.rep_dim, t.hidden) == (10, 45, 30, 1, (200, 200))
    assert t.activation == "tanh" and not t.positively_homogeneous
    assert t.n_classes == 19 and not t.modular
    assert (t.train_acc_threshold, t.grok_threshold) == (0.9, 0.9)
    d = make_data(t)
    np.testing.assert_allclose(d.r_linear[:, 0], np.linspace(-0.5, 0.5, 10))
    assert np.all(np.abs(d.r_random) <= 0.5) and d.r_random.std() > 0.1
    assert len(d.pairs_train) == 45 and len(d.pairs_test) == 10


def test_its_decoder_is_tanh():
    torch = pytest.importorskip("torch")
    module = ENTRY.torch_task(ENTRY.preset("liu2022"), torch.float64).new_module()
    assert any(isinstance(layer, torch.nn.Tanh) for layer in module.modules())


def test_the_other_presets_store_what_they_stored_before():
    """The fields added for liu2022 are left out of to_dict at their defaults, so earlier
    files and resume fingerprints of the other presets stay valid."""
    for name in ("paper", "fig6e", "notebook"):
        stored = ENTRY.preset(name).to_dict()
        assert not {"rep_range", "train_acc_threshold", "grok_threshold"} & set(stored)
    # and the same random draws: rep_range 1 is U(-1, 1) as before
    d = make_data(ENTRY.preset("paper"))
    rng = np.random.default_rng(0)
    rng.standard_normal((19, 30))
    np.testing.assert_array_equal(d.r_random, rng.uniform(-1.0, 1.0, (10, 1)))


@pytest.mark.parametrize("field, value", [("rep_range", 0.0), ("rep_range", -1.0),
                                          ("train_acc_threshold", 1.5),
                                          ("grok_threshold", 0.0), ("activation", "gelu")])
def test_bad_fields_are_refused_by_name(field, value):
    with pytest.raises(InputError, match=field):
        ToyAdditionConfig(**{field: value})


def _file_of(preset: str) -> xr.Dataset:
    task = ENTRY.preset(preset).to_dict()
    return xr.Dataset(attrs={"task": "toy-addition", "preset": preset,
                             "config_json": json.dumps({"task": task})})


def test_study_defaults_follow_the_files_preset():
    e = task_entry(_file_of("liu2022"))
    assert (e.alpha0, e.m0, e.train.steps, e.train.eta_r) == ((1.0,), 1.0, 100_000, 1e-3)
    assert e.train_seeds == (0,) and min(e.gammas) > 0
    paper = task_entry(_file_of("paper"))
    assert paper.m0 == ENTRY.m0 and paper.train == ENTRY.train


def test_phase_thresholds_are_the_presets():
    th = PhaseThresholds.of(_file_of("liu2022"))
    assert (th.train_acc, th.test, th.test_on) == (0.9, 0.9, "acc")
    th = PhaseThresholds.of(_file_of("paper"))
    assert (th.train_acc, th.test) == (0.95, 0.95)


def test_preset_studies_are_checked():
    base = dict(name="x", description="x", config_type=ToyAdditionConfig,
                presets={"paper": ToyAdditionConfig()}, adapter="m:C", has_m=True,
                probe_presets=ENTRY.probe_presets, train=ENTRY.train, probe_seeds=(0,),
                train_seeds=(0,))
    with pytest.raises(InputError, match=r"preset_studies.*'other'"):
        TaskEntry(**base, preset_studies={"other": {"m0": 1.0}})
    with pytest.raises(InputError, match="steps"):
        TaskEntry(**base, preset_studies={"paper": {"steps": 10}})
    e = TaskEntry(**base, preset_studies={"paper": {"m0": 0.5}})
    assert e.for_preset("paper").m0 == 0.5 and e.for_preset(None).m0 == 0.0
    with pytest.raises(InputError, match="m0"):
        TaskEntry(**base, preset_studies={"paper": {"m0": 2.0}})
