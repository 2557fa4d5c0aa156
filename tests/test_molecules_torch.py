"""The molecules task's torch side (issue 22): the collate equals torch-geometric's
``Batch.from_data_list``, the factorised NNConv equals ``NNConv.forward`` (values and
gradients), and a tiny probe and run on the ``qm9-tiny`` preset (grokking on test loss)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")
pytest.importorskip("rdkit")

import reduced_dynamics as rd  # noqa: E402
from reduced_dynamics.tasks import get_task  # noqa: E402
from reduced_dynamics.tasks import molecule_data as md  # noqa: E402


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Featurised molecules go to the test's folder, not the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # `md.cache_dir` reads it

SMILES = ["C", "CO", "c1ccccc1", "C#N", "CC(=O)O", "FC(F)F", "NC=O", "C1CC1", "CCO", "OC=O"]


def _tiny_task(dtype=torch.float64):
    """The molecules adapter on ten small molecules (no QM9 files needed)."""
    from reduced_dynamics.tasks.molecules_torch import MoleculesTorch

    target = np.linspace(-1.0, 1.0, len(SMILES))
    g = md.featurise(SMILES)
    data = md.MoleculeData(g.take(range(6)), target[:6], g.take(range(6, 10)), target[6:],
                           0.0, 1.0)
    config = get_task("molecules").preset("qm9-tiny", n_molecules=40, n_train=6)
    return MoleculesTorch(config, dtype, data=data)


def test_collate_equals_torch_geometrics_batch():
    from torch_geometric.data import Batch, Data

    tt = _tiny_task()
    index = torch.tensor([4, 0, 2, 2])
    x, ei, ea, batch, n = tt.collate(None, "train", index)
    s = tt.splits["train"]
    graphs = []
    for g in index.tolist():
        a, b = int(s.node_ptr[g]), int(s.node_ptr[g + 1])
        c, d = int(s.edge_ptr[g]), int(s.edge_ptr[g + 1])
        graphs.append(Data(x=s.x[a:b], edge_index=s.edge_index[:, c:d], edge_attr=s.edge_attr[c:d]))
    ref = Batch.from_data_list(graphs)
    assert n == 4
    for got, want in ((x, ref.x), (ei, ref.edge_index), (ea, ref.edge_attr), (batch, ref.batch)):
        assert torch.equal(got, want)


def test_factorised_nnconv_equals_nnconv():
    from reduced_dynamics.models.gcnn import MoleculeNet

    tt = _tiny_task()
    torch.manual_seed(0)
    fast = MoleculeNet(11, 4, (32, 16), 32).double()
    exact = MoleculeNet(11, 4, (32, 16), 32, exact=True).double()
    exact.load_state_dict(fast.state_dict())
    for p in fast.convs.parameters():  # NNConv's bias starts at 0: test a nonzero one
        p.data.normal_()
    exact.load_state_dict(fast.state_dict())
    inputs = tt.collate(None, "train", None)
    out_fast, out_exact = fast(*inputs), exact(*inputs)
    torch.testing.assert_close(out_fast, out_exact, rtol=1e-12, atol=1e-12)
    g_fast = torch.autograd.grad(out_fast.pow(2).sum(), list(fast.parameters()))
    g_exact = torch.autograd.grad(out_exact.pow(2).sum(), list(exact.parameters()))
    for a, b in zip(g_fast, g_exact, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_loss_accuracy_and_theta():
    tt = _tiny_task()
    module = tt.make_module(0).double()
    assert len(tt.theta(module)) == len(list(module.parameters()))  # theta: every parameter
    pred = tt.y["test"] + torch.tensor([0.1, -0.2, 0.6, 0.0], dtype=torch.float64)
    assert float(tt.loss(pred, "test")) == pytest.approx((0.01 + 0.04 + 0.36) / 4)
    assert float(tt.accuracy(pred, "test")) == pytest.approx(0.75)  # |error| < 0.5
    out = module(*tt.collate(None, "test", torch.tensor([1, 3])))
    assert out.shape == (2,)


@pytest.fixture
def qm9():
    if md.importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed")
    torch.set_num_threads(1)
    return get_task("molecules")


def test_tiny_probe_over_w_and_n(qm9, tmp_path):
    config = qm9.preset("qm9-tiny")
    probe = qm9.probe_preset("qm9-tiny")
    tt = qm9.torch_task(config)
    w = tuple(tt.w0(0) * np.array([0.5, 2.0]))
    grid = rd.ProbeGrid.no_m(w, (0,), n_train=(5, 20))
    ds = rd.probe(config, probe, grid, tmp_path / "l.nc", progress=False)
    back = rd.open_landscape(tmp_path / "l.nc")
    assert dict(back.sizes)["n_train"] == 2 and np.isfinite(back["test_loss"].values).all()
    np.testing.assert_array_equal(back["train_loss"].values, ds["train_loss"].values)
    from reduced_dynamics.engine.parameters import critical_n_train

    crit = critical_n_train(back)
    assert crit.on == "loss" and crit.threshold == config.grok_threshold
    from reduced_dynamics.plot.landscape import plot_n_train

    fig = plot_n_train(back)  # panel (c): the test loss and its threshold, not accuracy
    assert fig.axes[2].get_title().startswith("(c) test loss")


def test_tiny_run_records_loss_based_grokking(qm9, tmp_path):
    config = qm9.preset("qm9-tiny")
    cfg = rd.TrainConfig(steps=30, eta_d=1e-2, eta_r=0.0, n_log=6, batch_size=8)
    runs = rd.RunSet.sweep([0.0], [0], [1.0, 3.0], [0.0], n_trains=[10])
    ds = rd.train(config, cfg, runs, tmp_path / "r.nc", progress=False)
    back = rd.open_trajectories(tmp_path / "r.nc")
    assert back.sizes["run"] == 2 and np.isfinite(back["test_loss"].values).all()
    alpha = back["w"].values[:, 0] / back["w"].values[0, 0]
    assert alpha[1] == pytest.approx(3.0, rel=1e-5)
    from reduced_dynamics.engine.thresholds import grok_threshold_of

    assert grok_threshold_of(back)[:2] == (config.grok_threshold, "loss")
    assert ds.sizes["run"] == 2
