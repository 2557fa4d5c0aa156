"""Any nn.Module through one probe and one trainer: the task contract, batching paths,
n_train subsets, minibatches, devices and constrained-norm training."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _pre_redesign import OLD  # noqa: E402

from reduced_dynamics.batching.build import members_of  # noqa: E402
from reduced_dynamics.batching.data import MemberData  # noqa: E402
from reduced_dynamics.batching.devices import resolve_device  # noqa: E402
from reduced_dynamics.batching.evaluation import (  # noqa: E402
    member_loss,
    members_for,
    predict,
)
from reduced_dynamics.batching.stacking import project_, sq_norm  # noqa: E402
from reduced_dynamics.cli.main import main  # noqa: E402
from reduced_dynamics.config import (  # noqa: E402
    ProbeConfig,
    RunSet,
    TrainConfig,
)
from reduced_dynamics.errors import InputError  # noqa: E402
from reduced_dynamics.io.landscape_file import open_landscape  # noqa: E402
from reduced_dynamics.io.schema import config_of  # noqa: E402
from reduced_dynamics.landscape.probe import probe_batch  # noqa: E402
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape  # noqa: E402
from reduced_dynamics.models.lstm import LSTMClassifier  # noqa: E402
from reduced_dynamics.tasks import teacher_student, torch_task, toy_addition  # noqa: E402
from reduced_dynamics.tasks.base import w0_of  # noqa: E402
from reduced_dynamics.testing import sequence_task  # noqa: E402
from reduced_dynamics.training.trainer import train_runs  # noqa: E402

TOY = toy_addition.preset("paper")
TS = teacher_student.preset("paper")
SEQ = sequence_task.SequenceConfig()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def seq_task():
    with sequence_task.registered() as entry:
        yield entry


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the regression numbers were computed so, and many tiny ops (the
    LSTM) run faster so on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------ the contract


def test_module_init_is_seeded_forked_and_w0_is_cached():
    tt = torch_task(TOY)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a, b = tt.make_module(3), tt.make_module(3)
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    direct = float(torch.sqrt(sum((p.detach().double() ** 2).sum() for p in a.parameters())))
    assert tt.w0(3) == pytest.approx(direct, rel=1e-14)
    assert 3 in tt._w0 and w0_of(TOY, 3) == tt.w0(3)


def test_theta_is_a_subset_of_the_parameters(seq_task):
    tt = torch_task(SEQ, torch.float64)
    module = tt.make_module(0)
    names = [n for n, _ in module.named_parameters()]
    assert "embedding.weight" in names and "embedding.weight" not in tt.theta_names
    theta = tt.theta(module)
    assert len(theta) == len(names) - 1
    expect = float(torch.sqrt(sum((p.detach().double() ** 2).sum() for p in theta)))
    assert tt.w0(0) == pytest.approx(expect, rel=1e-14)


def test_lstm_classifier_is_nn_lstm():
    """The LSTM made of nn.Linear gates computes what nn.LSTM computes."""
    torch.manual_seed(0)
    model = LSTMClassifier(5, 3, 4, 2)
    ref = torch.nn.LSTM(3, 4, batch_first=True)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(model.cells[0].ih.weight)
        ref.weight_hh_l0.copy_(model.cells[0].hh.weight)
        ref.bias_ih_l0.copy_(model.cells[0].ih.bias)
        ref.bias_hh_l0.copy_(model.cells[0].hh.bias)
    tokens = torch.randint(0, 5, (7, 6))
    h, _ = ref(model.embedding(tokens))
    expected = model.readout(h[:, -1])
    torch.testing.assert_close(model(tokens), expected, rtol=1e-6, atol=1e-6)


def test_module_without_batching_rule_falls_back_to_a_loop():
    class WithLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(2, 3, batch_first=True)

        def forward(self, x):
            return self.lstm(x)[0][:, -1]

    modules = []
    for seed in range(3):
        torch.manual_seed(seed)
        modules.append(WithLSTM())
    members = members_of(modules, None, torch.float32, torch.device("cpu"))
    x = torch.randn(4, 5, 2)
    with pytest.warns(RuntimeWarning, match="one by one"):
        out = members.apply(lambda i: i, (x,), (None,))
    assert members.path == "loop"
    for b, module in enumerate(modules):
        torch.testing.assert_close(out[b], module(x))


# ------------------------------------------------------------------ a non-MLP task


def test_lstm_task_probe_stays_on_the_sphere_and_keeps_the_embedding(seq_task):
    """Projected Adam on theta: every member on ||theta|| = w (1e-5 relative); the
    embedding (outside theta) does not move during a probe."""
    tt = torch_task(SEQ, torch.float32)
    seeds = np.array([0, 1, 0])
    w = np.array([0.5, 1.0, 3.0]) * tt.w0(0)
    data = MemberData(tt, 3)
    members = members_for(tt, seeds, torch.float32, torch.device("cpu"),
                          sample=(None, data.train_batch(0)))
    assert members.path == "vmap" and len(members.rest) == 1  # the dry run chose vmap
    embedding = members.rest[0].detach().clone()
    norm = torch.as_tensor(w, dtype=torch.float32)
    project_(members.theta, norm)
    opt = torch.optim.Adam(members.theta, lr=0.05)
    for step in range(8):
        opt.zero_grad()
        sel = data.train_batch(step)
        member_loss(tt, predict(tt, members, None, "train", sel), "train", sel).sum().backward()
        opt.step()
        assert not np.allclose(sq_norm(members.theta).sqrt().detach().numpy(), w, rtol=1e-5)
        project_(members.theta, norm)
        np.testing.assert_allclose(sq_norm(members.theta).sqrt().detach().numpy(), w,
                                   rtol=1e-5)
    assert torch.equal(members.rest[0], embedding)
    out = probe_batch(SEQ, ProbeConfig(steps=10, lr=1e-2), w, None, seeds)
    assert "dtrain_dm" not in out and np.all(np.isfinite(out["train_loss"]))
    assert np.all((out["test_acc"] >= 0) & (out["test_acc"] <= 1))


def test_lstm_task_batched_probe_equals_probing_alone(seq_task):
    probe = ProbeConfig(steps=12, lr=1e-2, dtype="float64")
    w0 = w0_of(SEQ, 0)
    w, seeds = w0 * np.array([0.7, 2.0]), np.array([0, 1])
    together = probe_batch(SEQ, probe, w, None, seeds)
    for b in range(2):
        alone = probe_batch(SEQ, probe, w[b:b + 1], None, seeds[b:b + 1])
        for key, value in alone.items():
            np.testing.assert_allclose(together[key][b], value[0], rtol=1e-9, atol=1e-12,
                                       err_msg=key)


def _lstm_alone(seed, alpha0, cfg, steps, batches=None):
    """One LSTMClassifier, torch.optim.Adam on theta (eta_d) and the embedding (eta_r),
    theta projected back to alpha0 w0 after every step."""
    tt = torch_task(SEQ, torch.float64)
    model = tt.make_module(seed).double()
    theta = tt.theta(model)
    target = alpha0 * tt.w0(seed)
    with torch.no_grad():
        scale = target / torch.sqrt(sum((p**2).sum() for p in theta))
        for p in theta:
            p.mul_(scale)
    opt = torch.optim.Adam([{"params": theta, "lr": cfg.eta_d},
                            {"params": [model.embedding.weight], "lr": cfg.eta_r}])
    for step in range(steps):
        opt.zero_grad()
        index = None if batches is None else batches(step)
        x = tt.x["train"] if index is None else tt.x["train"][index]
        y = tt.y["train"] if index is None else tt.y["train"][index]
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        with torch.no_grad():
            scale = target / torch.sqrt(sum((p**2).sum() for p in theta))
            for p in theta:
                p.mul_(scale)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(tt.x["train"]), tt.y["train"])
        w = torch.sqrt(sum((p**2).sum() for p in theta))
    return float(w), float(loss), model.embedding.weight.detach()


def test_lstm_task_constrained_training_equals_one_module_alone(seq_task):
    """Run k of a batch = the same module alone with torch.optim.Adam + projection; the
    norm stays at alpha0 w0 at every logged step."""
    steps = 15
    cfg = TrainConfig(steps=steps, dtype="float64", eta_d=1e-2, eta_r=5e-3, n_log=6,
                      constrain_norm=True)
    runs = RunSet(gamma=(0.0,) * 3, seed=(0, 1, 2), alpha0=(1.0, 2.0, 0.5), m0=(0.0,) * 3)
    logs = train_runs(SEQ, cfg, runs)
    w0 = np.array([w0_of(SEQ, s) for s in runs.seed])
    target = np.broadcast_to((np.array(runs.alpha0) * w0)[:, None], logs["w"].shape)
    np.testing.assert_allclose(logs["w"], target, rtol=1e-5)
    for b in range(3):
        w, loss, _ = _lstm_alone(runs.seed[b], runs.alpha0[b], cfg, steps)
        assert logs["w"][b, -1] == pytest.approx(w, rel=1e-10)
        assert logs["train_loss"][b, -1] == pytest.approx(loss, rel=1e-9)
    assert len({round(v, 6) for v in logs["train_loss"][:, -1]}) == 3


def test_minibatch_training_follows_the_seeded_epoch_order(seq_task):
    """batch_size 10 of 24 examples: batches of 10, 10, 4 per epoch, each epoch in
    default_rng([shuffle_seed, seed, epoch]) order; member = alone with those batches."""
    steps, bs = 7, 10
    cfg = TrainConfig(steps=steps, dtype="float64", eta_d=1e-2, eta_r=5e-3, n_log=4,
                      constrain_norm=True, batch_size=bs, shuffle_seed=5)
    runs = RunSet(gamma=(0.0, 0.0), seed=(0, 3), alpha0=(1.0, 1.5), m0=(0.0, 0.0))
    logs = train_runs(SEQ, cfg, runs)
    for b in range(2):
        def batches(step, seed=runs.seed[b]):
            epoch, k = divmod(step, 3)
            order = np.random.default_rng([5, seed, epoch]).permutation(SEQ.n_train)
            return torch.as_tensor(order[k * bs:(k + 1) * bs])

        _, loss, _ = _lstm_alone(runs.seed[b], runs.alpha0[b], cfg, steps, batches)
        assert logs["train_loss"][b, -1] == pytest.approx(loss, rel=1e-9)


# ------------------------------------------------------------------ subsets and minibatches


def test_subsets_are_nested_and_minibatches_cover_each_epoch():
    tt = torch_task(TS, torch.float64)
    data = MemberData(tt, 2, seeds=np.array([1, 2]), n_train=np.array([30, 100]))
    order = tt.subset_order()
    assert sorted(order.tolist()) == list(range(100))
    sel = data.train_batch(0)
    torch.testing.assert_close(sel.index, order)
    np.testing.assert_array_equal(sel.weight.sum(1).numpy(), [30, 100])
    assert not sel.weight[0, 30:].any()  # member 0: the first 30 of the order only
    mb = MemberData(tt, 2, seeds=np.array([1, 2]), n_train=np.array([30, 100]),
                    batch_size=16)
    seen = [[], []]
    for step in range(2):  # member 0: an epoch is 2 batches (16 + 14, padded)
        sel = mb.train_batch(step)
        keep = sel.weight[0] > 0 if sel.weight is not None else slice(None)
        seen[0] += sel.index[0][keep].tolist()
    assert sorted(seen[0]) == sorted(order[:30].tolist())
    with pytest.raises(InputError, match="n_train"):
        MemberData(tt, 1, n_train=np.array([101]))


def test_probe_with_n_train_equals_probing_each_size_alone():
    probe = ProbeConfig(steps=15, dtype="float64")
    w = w0_of(TS, 1) * np.array([0.5, 0.5, 2.0])
    seeds, n = np.array([1, 1, 2]), np.array([20, 100, 60])
    together = probe_batch(TS, probe, w, None, seeds, n_train=n)
    for b in range(3):
        alone = probe_batch(TS, probe, w[b:b + 1], None, seeds[b:b + 1], n_train=n[b:b + 1])
        for key, value in alone.items():
            np.testing.assert_allclose(together[key][b], value[0], rtol=1e-9, atol=1e-12,
                                       err_msg=key)
    full = probe_batch(TS, probe, w[1:2], None, seeds[1:2])  # n_train 100 = everything
    np.testing.assert_allclose(full["train_loss"], together["train_loss"][1:2], rtol=1e-9)
    assert together["train_loss"][0] != together["train_loss"][1]  # 20 examples differ


def test_w_n_train_landscape_file(tmp_path):
    grid = ProbeGrid.no_m(w0_of(TS, 1) * np.array([0.5, 2.0]), seeds=(1, 2),
                          n_train=(10, 100))
    ds = probe_landscape(TS, ProbeConfig(steps=10, chunk_size=3), grid, tmp_path / "n.nc",
                         progress=False)
    back = open_landscape(tmp_path / "n.nc")
    assert back["train_loss"].dims == ("w", "n_train")
    assert back["train_loss_by_seed"].dims == ("seed", "w", "n_train")
    assert back["n_train"].values.tolist() == [10, 100]
    np.testing.assert_array_equal(back["train_loss"].values, ds["train_loss"].values)
    best = back["train_loss_by_seed"].min("seed")
    np.testing.assert_array_equal(back["train_loss"].values, best.values)
    assert config_of(back)["n_train"] == [10, 100]
    with pytest.raises(InputError, match="n_train"):
        probe_landscape(TS, ProbeConfig(steps=10), ProbeGrid.no_m((1.0,), (1,), (500,)),
                        tmp_path / "x.nc", progress=False)


# ------------------------------------------------------------------ paths and old numbers


def test_vmap_path_gives_the_bmm_numbers():
    """The generic path (functional_call + vmap of nn.Linear) and the hand-written bmm path
    agree to float64 rounding, probe and training."""
    probe = ProbeConfig(steps=30, dtype="float64", lr=3e-3)
    w = w0_of(TOY, 0) * np.array([0.5, 3.0, 10.0])
    m, seeds = np.array([0.0, 0.2, 0.7]), np.array([0, 1, 2])
    bmm = probe_batch(TOY, probe, w, m, seeds, path="bmm")
    vm = probe_batch(TOY, probe, w, m, seeds, path="vmap")
    for key in bmm:
        np.testing.assert_allclose(vm[key], bmm[key], rtol=1e-9, atol=1e-12, err_msg=key)
    cfg = TrainConfig(steps=20, dtype="float64", eta_d=3e-3, eta_r=2e-3, n_log=4)
    runs = RunSet(gamma=(0.0, 1.0), seed=(1, 2), alpha0=(2.0, 0.5), m0=(0.0, 0.0))
    a = train_runs(TS, cfg, runs, path="bmm")
    b = train_runs(TS, cfg, runs, path="vmap")
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 2e-4)])
def test_fast_path_reproduces_the_pre_redesign_numbers(dtype, rtol):
    """The bmm path of the new code against numbers computed by the old code
    (tests/_pre_redesign.py says how)."""
    assert w0_of(TOY, 0) == pytest.approx(OLD["toy_w0"], rel=1e-14)
    assert w0_of(TS, 1) == pytest.approx(OLD["ts_w0"], rel=1e-14)
    w = OLD["toy_w0"] * np.array([0.5, 2.0, 8.0, 30.0])
    m, seeds = np.array([0.0, 0.1, 0.5, 0.9]), np.array([0, 1, 0, 1])
    got = probe_batch(TOY, ProbeConfig(steps=40, dtype=dtype), w, m, seeds)
    for key, value in OLD[f"toy_probe_{dtype}"].items():
        np.testing.assert_allclose(got[key], value, rtol=rtol, err_msg=key)
    runs = RunSet((0.0, 0.5, 5.0), (0, 1, 0), (3.0, 1.0, 5.0), (0.2, 0.0, 0.7))
    logs = train_runs(TOY, TrainConfig(steps=30, dtype=dtype, n_log=4, eta_d=3e-3,
                                       eta_r=2e-3), runs)
    for key, value in OLD[f"toy_train_{dtype}"].items():
        np.testing.assert_allclose(logs[key][:, -1], value, rtol=rtol, atol=1e-12,
                                   err_msg=key)
    if dtype == "float64":
        probe = ProbeConfig(steps=40, dtype=dtype, lr_scaling="alpha", schedule="cosine")
        got = probe_batch(TOY, probe, w, m, seeds)
        for key, value in OLD["toy_probe_alpha_cosine_float64"].items():
            np.testing.assert_allclose(got[key], value, rtol=rtol, err_msg=key)
        got = probe_batch(TS, ProbeConfig(steps=40, dtype=dtype),
                          OLD["ts_w0"] * np.array([0.3, 1.0, 3.0]), None, np.array([1, 2, 3]))
        for key, value in OLD["ts_probe_float64"].items():
            np.testing.assert_allclose(got[key], value, rtol=rtol, err_msg=key)
        runs = RunSet((0.0, 1.0), (1, 2), (2.0, 0.5), (0.0, 0.0))
        logs = train_runs(TS, TrainConfig(steps=30, dtype=dtype, n_log=4, eta_d=3e-3,
                                          eta_r=0.0), runs)
        for key, value in OLD["ts_train_float64"].items():
            np.testing.assert_allclose(logs[key][:, -1], value, rtol=rtol, atol=1e-12,
                                       err_msg=key)


# ------------------------------------------------------------------ devices, constrain_norm


def test_device_code_path_on_cpu(tmp_path):
    """device= goes through the same code as cuda would (tensors moved, numpy back)."""
    w = w0_of(TOY, 0) * np.array([1.0, 2.0])
    out = probe_batch(TOY, ProbeConfig(steps=10), w, np.array([0.0, 0.3]), np.zeros(2, int),
                      device=torch.device("cpu"))
    assert all(isinstance(v, np.ndarray) for v in out.values())
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="`device`"):
        resolve_device("tpu")
    grid = ProbeGrid(tuple(w), (0.0,), (0,))
    ds = probe_landscape(TOY, ProbeConfig(steps=10), grid, tmp_path / "d.nc", progress=False,
                         device="cpu")
    config = config_of(ds)
    assert config["device"] == "cpu" and config["device_name"]


def test_cli_device_and_constrain_norm(tmp_path, capsys):
    if not torch.cuda.is_available():
        assert main(["probe", "toy-addition", "--alpha", "1", "--device", "cuda",
                     "-o", str(tmp_path / "x.nc")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "CUDA is not available" in err
    assert main(["train", "teacher-student", "--constrain-norm", "--gamma", "0.1",
                 "-o", str(tmp_path / "x.nc")]) == 2
    assert "`gamma` must be 0" in capsys.readouterr().err
    out = tmp_path / "c.nc"
    assert main(["train", "teacher-student", "--constrain-norm", "--steps", "8", "--n-log",
                 "3", "--threads", "1", "-q", "--device", "cpu", "-o", str(out)]) == 0
    import xarray as xr

    with xr.open_dataset(out) as ds:
        assert ds["gamma"].values.tolist() == [0.0]  # the default gamma becomes 0
        w = ds["w"].values
        np.testing.assert_allclose(w, np.full(w.shape, 2.0 * w0_of(TS, 1)), rtol=1e-5)
        config = json.loads(ds.attrs["config_json"])
    assert config["train"]["constrain_norm"] is True and config["device"] == "cpu"


def test_benchmark_runs_at_a_tiny_size():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_probe.py"), "--members", "3",
         "--steps", "10", "--loop-points", "2", "--cpu-baseline-members", "2", "--threads",
         "1"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # the table's rows: the points asked for, and rates that are seconds and work consistent
    rows = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"cpu\s+(.+?)\s{2,}(\d+)\s+([\d.]+)\s+(\d+)\s+([\d.]+)$", line)
        if m:
            rows[m[1].split(",")[-1].split("(")[0].strip()] = (int(m[2]), float(m[4]))
    assert {k: v[0] for k, v in rows.items()} == {"bmm": 3, "vmap": 3,
                                                   "per-point loop": 2}, proc.stdout
    assert all(rate > 0 for _, rate in rows.values())
    # the printed speed-ups are the ratios of the printed rates (to their rounding)
    sp = re.search(r"bmm / loop: ([\d.]+)x; vmap / loop: ([\d.]+)x", proc.stdout)
    loop = rows["per-point loop"][1]
    assert float(sp[1]) == pytest.approx(rows["bmm"][1] / loop, abs=0.06 + 0.01 * float(sp[1]))
    assert float(sp[2]) == pytest.approx(rows["vmap"][1] / loop, abs=0.06 + 0.01 * float(sp[2]))
