"""A tiny synthetic graph task with a message-passing module, for tests of the batching
layer: inputs that are not one tensor, and data that are ragged per member.

Graphs of 2–6 nodes (features ``(n, 4)``; a ring of edges in both directions, edge features
``(2,)``), drawn with ``data_seed``; a graph's target is ``tanh(mean of its node features'
sum)``. The network is `reduced_dynamics.models.graph.GraphNet`, written as a
torch-geometric model is: ``forward(x, edge_index, edge_attr, batch)`` on a batch of
graphs, messages and pooling summed with ``index_add``. `GraphTorch.collate`
builds a member's batch of its selected graphs in Python (as ``Batch.from_data_list``
does), so per-member minibatches have different node counts: the task declares
``batch_path = "loop"``. Loss MSE, accuracy ``|error| < 0.1``; θ is every parameter.

Not in the CLI's registry; a test registers `ENTRY` for as long as it needs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.names import LOSS_MSE
from reduced_dynamics.tasks.base import TaskEntry, TorchTask, example_mean, registered_while


@dataclass(frozen=True)
class GraphConfig:
    """The task; stored whole in files as ``config_json``."""

    preset: str = "test"
    n_train: int = 24
    n_test: int = 16
    hidden: int = 8
    data_seed: int = 0
    positively_homogeneous = False  # message passing with biases and a sum readout

    @property
    def loss_name(self) -> str:
        return LOSS_MSE

    @property
    def theta_description(self) -> str:
        return "every parameter of the message-passing network"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_graphs(config: GraphConfig) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """``(x, edge_index, edge_attr, target)`` per graph, training graphs first."""
    rng = np.random.default_rng(config.data_seed)
    graphs = []
    for _ in range(config.n_train + config.n_test):
        n = int(rng.integers(2, 7))
        x = rng.normal(size=(n, 4))
        ring = np.arange(n)
        edges = np.concatenate([np.stack([ring, (ring + 1) % n]),
                                np.stack([(ring + 1) % n, ring])], axis=1)
        graphs.append((x, edges, rng.normal(size=(edges.shape[1], 2)),
                       float(np.tanh(x.sum(1).mean()))))
    return graphs


class GraphTorch(TorchTask):
    """Graph regression with a message-passing network (module docstring)."""

    batch_path = "loop"  # a member's graph batch is built in Python, its size its own

    def __init__(self, config: GraphConfig, dtype=None, device="cpu") -> None:
        super().__init__(config, dtype, device)
        graphs = make_graphs(config)
        split = {"train": graphs[:config.n_train], "test": graphs[config.n_train:]}
        self.graphs = {k: [(self.tensor(x), self.tensor(e), self.tensor(a)) for x, e, a, _ in v]
                       for k, v in split.items()}
        self.y = {k: self.tensor(np.array([g[3] for g in v])) for k, v in split.items()}
        self.subset_seed = config.data_seed

    def new_module(self):
        from reduced_dynamics.models.graph import GraphNet

        return GraphNet(4, 2, self.config.hidden)

    def n_examples(self, split: str) -> int:
        return len(self.y[split])

    def collate(self, rep, split, index=None):
        """The batch ``(x, edge_index, edge_attr, batch)`` of the graphs ``index``."""
        import torch

        chosen = range(self.n_examples(split)) if index is None else index.tolist()
        xs, edges, attrs, batch, offset = [], [], [], [], 0
        for k, g in enumerate(chosen):
            x, e, a = self.graphs[split][g]
            xs.append(x)
            edges.append(e + offset)
            attrs.append(a)
            batch.append(torch.full((len(x),), k, dtype=torch.long, device=self.device))
            offset += len(x)
        return torch.cat(xs), torch.cat(edges, 1), torch.cat(attrs), torch.cat(batch)

    def _error(self, pred, split, index):
        return pred - (self.y[split] if index is None else self.y[split][index])

    def loss(self, pred, split, index=None, weight=None):
        return example_mean(self._error(pred, split, index).pow(2), weight)

    def accuracy(self, pred, split, index=None, weight=None):
        ok = (self._error(pred, split, index).abs() < 0.1).to(pred.dtype)
        return example_mean(ok, weight)


ENTRY = TaskEntry(
    name="test-graph-mp",
    description="tiny synthetic graph regression with message passing (tests only)",
    config_type=GraphConfig,
    presets={"test": GraphConfig()},
    adapter="reduced_dynamics.testing.graph_task:GraphTorch",
    has_m=False,
    probe_presets={"test": ProbeConfig(steps=20, lr=1e-2, batch_size=8)},
    train=TrainConfig(steps=20, eta_d=1e-2, eta_r=0.0, n_log=5, batch_size=8),
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(1.0,),
)


def registered() -> contextlib.AbstractContextManager[TaskEntry]:
    """`ENTRY` in the task registry for the duration of a ``with`` block."""
    return registered_while(ENTRY)
