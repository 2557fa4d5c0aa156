"""The molecules task (issue 22): config checks, SMILES → graphs, the split and the
standardisation, the cache, the batched graph collate, the factorised NNConv, and a tiny
probe and run. A handful of small molecules: seconds."""

from __future__ import annotations

import numpy as np
import pytest

from reduced_dynamics.errors import InputError
from reduced_dynamics.tasks import get_task
from reduced_dynamics.tasks import molecule_data as md
from reduced_dynamics.tasks.molecules import PRESETS, MoleculesConfig


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Featurised molecules go to the test's folder, not the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # `md.cache_dir` reads it

TINY = ["C", "N", "O", "C=O", "C#N", "CC", "CO", "c1ccccc1", "CC(=O)O", "FC(F)F",
        "C#C", "CCO", "NC=O", "OC=O", "CN", "C1CC1"]


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("kwargs, field", [
    ({"n_molecules": 1}, "n_molecules"), ({"n_molecules": 200_000}, "n_molecules"),
    ({"n_molecules": 100, "n_train": 51}, "n_train"), ({"n_train": 0}, "n_train"),
    ({"n_molecules": 100, "n_train": 10, "n_test": 51}, "n_test"),
    ({"conv": ()}, "conv"), ({"conv": 32}, "conv"), ({"readout": 0}, "readout"),
    ({"acc_tolerance": 0.0}, "acc_tolerance"), ({"grok_on": "acc"}, "grok_on"),
    ({"grok_threshold": -0.1}, "grok_threshold"), ({"data_seed": -1}, "data_seed"),
])
def test_bad_config_values_name_the_field_and_the_value(kwargs, field):
    with pytest.raises(InputError) as err:
        MoleculesConfig(**kwargs)
    message = str(err.value)
    assert f"`{field}`" in message and "got " in message, message
    assert repr(kwargs[field]) in message or str(kwargs[field]) in message, message


def test_the_entry_is_registered_torch_free():
    entry = get_task("molecules")
    assert list(entry.presets) == ["qm9", "qm9-cpu", "qm9-tiny"]
    assert entry.preset("qm9").n_molecules is None and entry.preset("qm9").n_train == 10_000
    assert all(c.grok_on == "loss" and c.positively_homogeneous is False
               for c in PRESETS.values())
    assert entry.gammas == (0.0,) and entry.alpha0 == (3.0, 1.0)
    assert entry.train.batch_size == 32 and entry.probe_preset("qm9").batch_size == 32


# ----------------------------------------------------------------------- featurising
def test_graph_features_of_small_molecules():
    pytest.importorskip("rdkit")
    g = md.featurise(["C", "C=O", "c1ccccc1", "C#N"])
    assert len(g) == 4
    assert np.diff(g.node_ptr).tolist() == [5, 4, 12, 3]  # hydrogens added
    assert np.diff(g.edge_ptr).tolist() == [8, 6, 24, 4]  # each bond both ways
    x = g.x[:5]  # methane: C first, then four H
    np.testing.assert_array_equal(x[0], [0, 1, 0, 0, 0, 6, 0, 0, 0, 1, 4])
    np.testing.assert_array_equal(x[1], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    form = g.x[5:9]  # C=O: both sp2, C carries 2 H
    np.testing.assert_array_equal(form[0], [0, 1, 0, 0, 0, 6, 0, 0, 1, 0, 2])
    np.testing.assert_array_equal(form[1], [0, 0, 0, 1, 0, 8, 0, 0, 1, 0, 0])
    benz = g.x[9:21]
    assert benz[:6, 6].tolist() == [1] * 6 and benz[:6, 10].tolist() == [1] * 6
    ea = g.edge_attr
    assert ea[:8].argmax(1).tolist() == [0] * 8
    assert sorted(ea[8:14].argmax(1).tolist()) == [0, 0, 0, 0, 1, 1]  # two C-H, one C=O
    assert ea[14:38].argmax(1).tolist().count(3) == 12  # six aromatic bonds, both ways
    assert sorted(ea[38:42].argmax(1).tolist()) == [0, 0, 2, 2]  # H-C, C#N
    hcn = g.x[21:24]
    assert hcn[0, 7] == 1 and hcn[1, 7] == 1  # sp
    for k in range(4):  # edges local to their graph, sorted by (source, target)
        ei = g.edge_index[:, g.edge_ptr[k]:g.edge_ptr[k + 1]]
        n = g.node_ptr[k + 1] - g.node_ptr[k]
        assert ei.min() >= 0 and ei.max() < n
        key = ei[0] * n + ei[1]
        assert (np.diff(key) > 0).all()


def test_featurise_refuses_what_it_cannot_read():
    pytest.importorskip("rdkit")
    with pytest.raises(InputError, match="cannot be parsed"):
        md.featurise(["C", "not-a-smiles(("])
    with pytest.raises(InputError, match="element 'S'"):
        md.featurise(["CS"])


def test_split_standardisation_and_nested_training_sets():
    pytest.importorskip("rdkit")
    smiles = np.array(TINY, dtype=object)
    target = np.arange(len(TINY), dtype=float) * 3.0 + 10.0
    data = md.build(smiles, target, n_molecules=12, data_seed=3, n_train=4, n_test=5)
    pool, held = md.select(len(TINY), 12, 3)
    assert len(pool) == 6 and len(held) == 6 and not set(pool) & set(held)
    # standardised with the whole pool (6 molecules), not with the 4 used
    assert data.mean == pytest.approx(target[pool].mean())
    assert data.std == pytest.approx(target[pool].std())
    np.testing.assert_allclose(data.y_train * data.std + data.mean, target[pool[:4]])
    np.testing.assert_allclose(data.y_test * data.std + data.mean, target[held[:5]])
    small = md.build(smiles, target, n_molecules=12, data_seed=3, n_train=2, n_test=5)
    np.testing.assert_array_equal(small.y_train, data.y_train[:2])  # nested
    np.testing.assert_array_equal(small.train.x, data.train.take([0, 1]).x)
    with pytest.raises(InputError, match="`n_train` must be in"):
        md.build(smiles, target, n_molecules=12, data_seed=3, n_train=7, n_test=None)


def test_take_concatenates_graphs_anew():
    pytest.importorskip("rdkit")
    g = md.featurise(["C", "CO", "N"])
    h = g.take([2, 0])
    assert np.diff(h.node_ptr).tolist() == [4, 5] and np.diff(h.edge_ptr).tolist() == [6, 8]
    np.testing.assert_array_equal(h.x[:4], g.x[g.node_ptr[2]:g.node_ptr[3]])


# ------------------------------------------------------------------------ QM9 files
def test_qm9_files_are_read_from_the_package_folder():
    if md.importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed")
    smiles, target = md.read_qm9()
    assert len(smiles) == md.QM9_SIZE == 130_831
    assert smiles[0] == "C" and target[0] == pytest.approx(13.21)
    assert 60 < target.mean() < 90 and np.isfinite(target).all()


def test_missing_qm9pack_names_the_install(monkeypatch):
    monkeypatch.setattr(md.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"qm9pack.*\[molecules\]"):
        md.qm9_folder()


def test_the_cache_is_written_once_and_read_back(tmp_path, monkeypatch):
    pytest.importorskip("rdkit")
    if md.importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("REDUCED_DYNAMICS_NO_CACHE", raising=False)
    first = md.load_qm9(n_molecules=30, data_seed=1, n_train=10, n_test=6)
    files = list((tmp_path / "reduced_dynamics" / "molecules").glob("*.npz"))
    assert len(files) == 1

    def fail(*a, **k):
        raise AssertionError("featurised again")

    monkeypatch.setattr(md, "featurise", fail)
    monkeypatch.setattr(md, "read_qm9", fail)
    again = md.load_qm9(n_molecules=30, data_seed=1, n_train=10, n_test=6)
    np.testing.assert_array_equal(again.train.x, first.train.x)
    np.testing.assert_array_equal(again.y_test, first.y_test)
    assert (again.mean, again.std) == (first.mean, first.std)
    with pytest.raises(AssertionError, match="featurised again"):  # another selection
        md.load_qm9(n_molecules=30, data_seed=2, n_train=10, n_test=6)
