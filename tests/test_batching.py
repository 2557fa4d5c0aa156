"""The batching layer (`reduced_dynamics.batching`) on modules that are not one-tensor MLPs:
a multi-argument forward with dropout, and a torch-geometric-style message-passing module
on batches of graphs with different node counts; both paths (vmap, loop) against the
modules run alone, the dry run that chooses between them, and a graph task trained through
the trainer against the module trained alone."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from reduced_dynamics.batching.build import members_of  # noqa: E402
from reduced_dynamics.batching.members import dry_run, forward_args  # noqa: E402
from reduced_dynamics.config import RunSet, TrainConfig  # noqa: E402
from reduced_dynamics.models.graph import GraphNet  # noqa: E402
from reduced_dynamics.tasks import torch_task  # noqa: E402
from reduced_dynamics.testing import graph_task  # noqa: E402
from reduced_dynamics.training.trainer import train_runs  # noqa: E402

CPU = torch.device("cpu")
F64 = torch.float64
P_DROP = 0.3


class TwoInputs(nn.Module):
    """``forward(x, z, shift=0)``: two tensors and a keyword; dropout on the output."""

    def __init__(self) -> None:
        super().__init__()
        self.lin_x = nn.Linear(3, 8)
        self.lin_z = nn.Linear(2, 8)
        self.out = nn.Linear(8, 4)
        self.drop = nn.Dropout(P_DROP)

    def forward(self, x, z, shift=0.0):
        return self.drop(self.out(torch.tanh(self.lin_x(x) + self.lin_z(z))) + shift)


def _modules(factory, seeds):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(factory())
    return out


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _two_input_case(kind):
    """Per-member x ``(B, n, 3)``, shared z ``(n, 2)``; a collate giving a tuple or a dict."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, 3, generator=gen, dtype=F64)
    z = torch.randn(5, 2, generator=gen, dtype=F64)
    if kind == "tuple":
        def collate(xb, zb):
            return xb, zb, 0.5
    else:
        def collate(xb, zb):
            return {"x": xb, "z": zb, "shift": 0.5}
    return collate, (x, z), (0, None)


@pytest.mark.parametrize("kind", ["tuple", "dict"])
@pytest.mark.parametrize("path", ["vmap", "loop"])
def test_a_multi_argument_forward_equals_the_modules_alone(path, kind):
    """Dropout off (eval): member b is module b on its own x and the shared z, outputs and
    the gradient of every parameter."""
    modules = [m.eval() for m in _modules(TwoInputs, (0, 1, 2))]
    members = members_of(modules, None, F64, CPU, path)
    assert members.path == path
    collate, args, in_dims = _two_input_case(kind)
    out = members.apply(collate, args, in_dims)
    out.pow(2).sum().backward()
    for b, module in enumerate(modules):
        module = module.double()
        pos, kw = forward_args(collate(args[0][b], args[1]))
        alone = module(*pos, **kw)
        torch.testing.assert_close(out[b], alone, rtol=1e-12, atol=1e-14)
        alone.pow(2).sum().backward()
        for name, p in module.named_parameters():
            torch.testing.assert_close(members.stack.params[name].grad[b], p.grad,
                                       rtol=1e-12, atol=1e-14, msg=name)


def test_dropout_in_the_loop_is_the_modules_alone_in_turn():
    """Dropout on (train): the loop draws member b's mask as module b alone would, in
    member order from the same RNG state, bit for bit."""
    modules = _modules(TwoInputs, (0, 1, 2))
    members = members_of(modules, None, F64, CPU, "loop")
    collate, args, in_dims = _two_input_case("tuple")
    torch.manual_seed(11)
    out = members.apply(collate, args, in_dims)
    torch.manual_seed(11)
    alone = [m.double()(*collate(args[0][b], args[1])) for b, m in enumerate(modules)]
    assert torch.equal(out, torch.stack(alone))
    assert (out == 0).any()  # some outputs dropped


def test_dropout_under_vmap_draws_a_mask_per_member():
    """randomness="different": each output is 0 (dropped) or module b's output / (1 - p);
    members with the same parameters get different masks; a fixed seed repeats them."""
    modules = _modules(TwoInputs, (0, 0, 1))  # members 0 and 1 are the same network
    members = members_of(modules, None, F64, CPU, "vmap")
    collate, args, in_dims = _two_input_case("tuple")
    x = args[0].clone()
    x[1] = x[0]  # and see the same inputs
    args = (x, args[1])
    torch.manual_seed(3)
    out = members.apply(collate, args, in_dims)
    torch.manual_seed(3)
    assert torch.equal(members.apply(collate, args, in_dims), out)
    for b, module in enumerate(modules):
        expected = module.double().eval()(*collate(x[b], args[1])) / (1 - P_DROP)
        kept = out[b] != 0
        torch.testing.assert_close(out[b][kept], expected[kept], rtol=1e-12, atol=1e-14)
        assert 0 < kept.float().mean() < 1
    assert not torch.equal(out[0] != 0, out[1] != 0)


def test_the_dry_run_chooses_vmap_for_dropout_and_leaves_everything_as_it_was():
    """Dropout no longer falls back (vmap has randomness="different"); the dry run is a
    forward and a backward that leave the RNG and the gradients untouched."""
    modules = _modules(TwoInputs, (0, 1, 2))
    members = members_of(modules, None, F64, CPU)  # "auto": not an MLP, no fast path
    assert members.path == "auto"
    collate, args, in_dims = _two_input_case("dict")
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    assert members.decide(collate, args, in_dims) == "vmap"
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(p.grad is None for p in members.leaves)
    torch.manual_seed(5)
    direct = members_of(modules, None, F64, CPU, "vmap").apply(collate, args, in_dims)
    torch.manual_seed(5)
    assert torch.equal(members.apply(collate, args, in_dims), direct)


# ------------------------------------------------------------------ graphs


def _graphs(n_graphs, seed=0):
    """Graphs of 2..6 nodes as (x, edge_index, edge_attr), float64."""
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        n = int(rng.integers(2, 7))
        ring = np.arange(n)
        edges = np.concatenate([np.stack([ring, (ring + 1) % n]),
                                np.stack([(ring + 1) % n, ring])], axis=1)
        graphs.append((torch.as_tensor(rng.normal(size=(n, 4))), torch.as_tensor(edges),
                       torch.as_tensor(rng.normal(size=(edges.shape[1], 2)))))
    return graphs


def _batch_of(graphs, index):
    """torch-geometric's ``Batch.from_data_list`` layout of the graphs ``index``."""
    xs, edges, attrs, batch, offset = [], [], [], [], 0
    for k, g in enumerate(index.tolist()):
        x, e, a = graphs[g]
        xs.append(x)
        edges.append(e + offset)
        attrs.append(a)
        batch.append(torch.full((len(x),), k))
        offset += len(x)
    return torch.cat(xs), torch.cat(edges, 1), torch.cat(attrs), torch.cat(batch)


def _check_graph_members(members, modules, graphs, collate, index, per_member):
    out = members.apply(collate, (index,), (0 if per_member else None,))
    out.pow(2).sum().backward()
    for b, module in enumerate(modules):
        module = module.double()
        alone = module(*_batch_of(graphs, index[b] if per_member else index))
        torch.testing.assert_close(out[b], alone, rtol=1e-12, atol=1e-14)
        alone.pow(2).sum().backward()
        for name, p in module.named_parameters():
            torch.testing.assert_close(members.stack.params[name].grad[b], p.grad,
                                       rtol=1e-12, atol=1e-14, msg=name)


@pytest.mark.parametrize("path", ["vmap", "loop"])
def test_message_passing_on_a_shared_batch_of_graphs_equals_the_modules_alone(path):
    """Every member on one batch of 5 graphs (node counts 2..6): index_add message passing
    and add-pooling batch under vmap as well as in the loop."""
    graphs = _graphs(12)
    modules = _modules(GraphNet, (0, 1, 2))
    members = members_of(modules, None, F64, CPU, path)
    index = torch.tensor([0, 3, 4, 7, 9])
    assert len({len(graphs[i][0]) for i in index.tolist()}) > 1
    _check_graph_members(members, modules, graphs, lambda i: _batch_of(graphs, i), index,
                         per_member=False)


def test_ragged_graphs_per_member_go_through_the_loop():
    """Each member its own 4 graphs (so its own node count): the dry run sees that vmap
    cannot build them and picks the loop (a warning); forced vmap fails; the loop equals the
    modules alone."""
    graphs = _graphs(12)
    index = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
    sizes = [sum(len(graphs[g][0]) for g in row) for row in index.tolist()]
    assert len(set(sizes)) > 1  # ragged: the members' batches differ in node count

    def collate(i):
        return _batch_of(graphs, i)

    modules = _modules(GraphNet, (0, 1, 2))
    auto = members_of(modules, None, F64, CPU)
    with pytest.warns(RuntimeWarning, match="one by one"):
        assert auto.decide(collate, (index,), (0,)) == "loop"
    assert dry_run(auto.stack, collate, (index,), (0,)) is not None
    with pytest.raises(Exception):  # noqa: B017 - whatever vmap raises on .tolist()
        members_of(modules, None, F64, CPU, "vmap").apply(collate, (index,), (0,))
    _check_graph_members(auto, modules, graphs, collate, index, per_member=True)


def test_a_graph_task_trains_each_run_as_the_module_alone():
    """The graph task (collate: a member's own batch of graphs, path "loop") through the
    trainer with minibatches of 8: run k equals GraphNet alone under torch.optim.Adam on
    the same batches (default_rng([shuffle_seed, seed, epoch]) order)."""
    steps, bs, lr = 7, 8, 1e-2
    cfg = TrainConfig(steps=steps, dtype="float64", eta_d=lr, eta_r=0.0, n_log=3,
                      batch_size=bs, shuffle_seed=4)
    runs = RunSet(gamma=(0.0, 0.0), seed=(0, 1), alpha0=(1.0, 1.5), m0=(0.0, 0.0))
    with graph_task.registered():
        config = graph_task.GraphConfig()
        logs = train_runs(config, cfg, runs)
        tt = torch_task(config, F64)
    n = config.n_train
    for b in range(2):
        model = tt.make_module(runs.seed[b]).double()
        with torch.no_grad():
            scale = runs.alpha0[b] * tt.w0(runs.seed[b]) / torch.sqrt(
                sum((p ** 2).sum() for p in model.parameters()))
            for p in model.parameters():
                p.mul_(scale)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for step in range(steps):
            epoch, k = divmod(step, -(-n // bs))
            order = np.random.default_rng([4, runs.seed[b], epoch]).permutation(n)
            index = torch.as_tensor(order[k * bs:(k + 1) * bs])
            opt.zero_grad()
            tt.loss(model(*tt.collate(None, "train", index)), "train", index).backward()
            opt.step()
        with torch.no_grad():
            loss = float(tt.loss(model(*tt.collate(None, "train")), "train"))
        assert logs["train_loss"][b, -1] == pytest.approx(loss, rel=1e-10)
    assert logs["train_loss"][0, -1] != logs["train_loss"][1, -1]
