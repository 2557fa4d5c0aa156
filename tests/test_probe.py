"""The torch probe: sphere constraint, batching, physics of a small real probe, resume."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

from reduced_dynamics.batching import mlp_bmm as bm  # noqa: E402
from reduced_dynamics.batching.stacking import project_, sq_norm  # noqa: E402
from reduced_dynamics.config import ProbeConfig  # noqa: E402
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.landscape_file import open_landscape  # noqa: E402
from reduced_dynamics.io.parts import ChunkPlan, PartStore  # noqa: E402
from reduced_dynamics.landscape.probe import probe_batch  # noqa: E402
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.tasks.toy_addition import make_data, preset  # noqa: E402

TASK = preset("paper")


def test_w0_counts_every_parameter_once():
    params = bm.default_init(TASK.layer_sizes, 0)
    torch.manual_seed(0)
    layers = [torch.nn.Linear(a, b) for a, b in pairwise(TASK.layer_sizes)]
    direct = torch.sqrt(sum((p.detach().double() ** 2).sum() for layer in layers
                            for p in layer.parameters()))
    assert w0_of(TASK, 0) == pytest.approx(float(direct), rel=1e-12)
    assert sum(p.numel() for p in params) == 1 * 200 + 200 + 200 * 200 + 200 + 200 * 30 + 30


def test_projection_keeps_every_member_on_its_sphere():
    """Every member ends on ||theta|| = w to 1e-5 relative, for norms over three decades."""
    w0 = w0_of(TASK, 0)
    w = w0 * np.array([0.1, 1.0, 10.0, 100.0])
    seeds = np.array([0, 1, 0, 1])
    params = bm.stack([bm.default_init(TASK.layer_sizes, int(s)) for s in seeds], torch.float32)
    norm = torch.as_tensor(w, dtype=torch.float32)
    opt = torch.optim.Adam(params, lr=1e-2)
    x = torch.randn(4, 45, 1)
    for _ in range(20):
        project_(params, norm)
        opt.zero_grad()
        bm.forward(params, x).pow(2).mean((1, 2)).sum().backward()
        opt.step()
        assert not np.allclose(sq_norm(params).sqrt().detach().numpy(), w, rtol=1e-5)
        project_(params, norm)
        got = sq_norm(params).sqrt().detach().numpy()
        np.testing.assert_allclose(got, w, rtol=1e-5)


def test_batched_probe_equals_probing_alone():
    probe = ProbeConfig(steps=60, dtype="float64")
    w0 = w0_of(TASK, 0)
    w = w0 * np.array([0.5, 2.0, 8.0])
    m = np.array([0.0, 0.3, 0.9])
    seeds = np.array([0, 1, 2])
    together = probe_batch(TASK, probe, w, m, seeds)
    for b in range(3):
        alone = probe_batch(TASK, probe, w[b:b + 1], m[b:b + 1], seeds[b:b + 1])
        for key, value in alone.items():
            np.testing.assert_allclose(together[key][b], value[0], rtol=1e-9, atol=1e-12,
                                       err_msg=key)


def test_envelope_derivatives_match_finite_differences():
    """dtrain_dw = theta_hat . grad l (radial) and dtrain_dm = dl/dm at fixed theta."""
    from reduced_dynamics.landscape.probe import _measure
    from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch

    dt = torch.float64
    tt = ToyAdditionTorch(TASK, dt)
    w0 = w0_of(TASK, 0)
    params = bm.stack([bm.default_init(TASK.layer_sizes, 0)], dt)
    project_(params, torch.tensor([2.0 * w0], dtype=dt))
    m = torch.tensor([0.4], dtype=dt)
    out = _measure(tt, params, m, None, ProbeConfig(steps=10, dtype="float64"))

    def loss(scale: float, m_value: float) -> float:
        with torch.no_grad():
            scaled = [p * scale for p in params]
            rep = tt.representation(torch.tensor([m_value], dtype=dt))
            return float(tt.loss(bm.forward(scaled, tt.inputs(rep, "train")), "train")[0])

    h = 1e-6
    w = 2.0 * w0
    fd_w = (loss(1 + h, 0.4) - loss(1 - h, 0.4)) / (2 * h * w)
    fd_m = (loss(1.0, 0.4 + h) - loss(1.0, 0.4 - h)) / (2 * h)
    assert out["dtrain_dw"][0] == pytest.approx(fd_w, rel=1e-6)
    assert out["dtrain_dm"][0] == pytest.approx(fd_m, rel=1e-6)
    assert 0.0 <= out["tangent_grad_ratio"][0] <= 1.0


@pytest.fixture(scope="module")
def small_probe():
    """A small real probe: 4 norms x 2 messiness values, 600 steps."""
    w0 = w0_of(TASK, 0)
    alpha = np.array([0.2, 0.5, 1.5, 4.0])
    m = np.array([0.0, 0.6])
    w_grid = np.repeat(alpha * w0, 2)
    m_grid = np.tile(m, 4)
    out = probe_batch(TASK, ProbeConfig(steps=600, lr=3e-3), w_grid, m_grid,
                      np.zeros(8, int))
    return {k: v.reshape(4, 2) for k, v in out.items()}


def test_small_probe_training_loss_falls_with_w(small_probe):
    train = small_probe["train_loss"]
    assert train[-1, 0] < 0.5 * train[0, 0]
    assert train[-1, 1] < train[0, 1]


def test_small_probe_test_loss_rises_with_m(small_probe):
    test = small_probe["test_loss"]
    assert test[-1, 1] > test[-1, 0]
    assert test[-2, 1] > test[-2, 0]


def test_data_split_is_seeded_and_complete():
    a, b = make_data(TASK), make_data(TASK)
    np.testing.assert_array_equal(a.pairs_train, b.pairs_train)
    assert len(a.pairs_train) == 45 and len(a.pairs_test) == 10
    both = {tuple(p) for p in a.pairs_train} | {tuple(p) for p in a.pairs_test}
    assert len(both) == 55
    assert a.targets.shape == (19, 30)
    c = make_data(preset("paper", data_seed=1))
    assert not np.array_equal(a.pairs_train, c.pairs_train)


def test_fig6e_pool_is_every_pair_and_its_test_set_the_whole_table():
    d = make_data(preset("fig6e"))
    table = {tuple(p) for p in make_data(TASK).pairs_train} | {
        tuple(p) for p in make_data(TASK).pairs_test}
    assert {tuple(p) for p in d.pairs_train} == table == {tuple(p) for p in d.pairs_test}
    with pytest.raises(InputError, match="test_set='all' allows every pair"):
        preset("paper", n_train=55)
    with pytest.raises(InputError, match="test_set"):
        preset("paper", test_set="unseen")


def _grid():
    w0 = w0_of(TASK, 0)
    return ProbeGrid(w=tuple(w0 * np.array([0.5, 1.0, 3.0])), m=(0.0, 0.5), seeds=(0, 1))


def test_resume_after_interrupt_equals_uninterrupted(tmp_path, monkeypatch):
    probe = ProbeConfig(steps=40, chunk_size=5)
    grid = _grid()
    clean = probe_landscape(TASK, probe, grid, tmp_path / "clean.nc", progress=False)

    import reduced_dynamics.io.parts as sweep

    real_write = PartStore.write
    calls = {"n": 0}

    def dying_write(self, chunk, members, results):
        if calls["n"] == 1:
            raise KeyboardInterrupt  # killed after the first chunk was saved
        calls["n"] += 1
        real_write(self, chunk, members, results)

    monkeypatch.setattr(sweep.PartStore, "write", dying_write)
    out = tmp_path / "resumed.nc"
    with pytest.raises(KeyboardInterrupt):
        probe_landscape(TASK, probe, grid, out, progress=False)
    assert not out.exists()
    store = PartStore(out, {})
    assert store.done() == {0}
    monkeypatch.setattr(sweep.PartStore, "write", real_write)

    computed = []
    import reduced_dynamics.landscape.probe as probe_mod

    real_batch = probe_mod.probe_batch

    def counting_batch(task, probe_cfg, w, m, seeds, progress=None):
        computed.append(len(w))
        return real_batch(task, probe_cfg, w, m, seeds, progress)

    monkeypatch.setattr(probe_mod, "probe_batch", counting_batch)
    resumed = probe_landscape(TASK, probe, grid, out, resume=True, progress=False)
    plan = ChunkPlan(12, 5)
    assert computed == [len(plan.members(1)), len(plan.members(2))]  # chunk 0 not redone
    assert not store.folder.exists()
    for name in clean.data_vars:
        xr.testing.assert_identical(clean[name], resumed[name])
    xr.testing.assert_identical(open_landscape(out).drop_attrs(), resumed.drop_attrs())


def test_rerun_without_resume_refuses_to_mix(tmp_path):
    store = PartStore(tmp_path / "x.nc", {"a": 1})
    store.open(resume=False)
    store.write(0, np.arange(3), {"v": np.ones(3)})
    from reduced_dynamics.errors import InputError

    with pytest.raises(InputError, match="--resume"):
        PartStore(tmp_path / "x.nc", {"a": 1}).open(resume=False)
    with pytest.raises(InputError, match="different sweep"):
        PartStore(tmp_path / "x.nc", {"a": 2}).open(resume=True)


def test_best_seed_is_the_lowest_train_loss():
    from reduced_dynamics.landscape.sweep import reduce_over_seeds

    per_seed = {"train_loss": np.array([[[1.0, np.nan]], [[0.5, 2.0]]]),
                "test_loss": np.array([[[10.0, 20.0]], [[30.0, 40.0]]])}
    out = reduce_over_seeds(per_seed)
    np.testing.assert_array_equal(out["best_seed"], [[1, 1]])
    np.testing.assert_array_equal(out["test_loss"], [[30.0, 40.0]])
