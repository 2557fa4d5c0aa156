"""Torch adapter of the molecules task (SPEC §8): QM9 graphs into torch-geometric's NNConv.

`MoleculesTorch.collate` builds a member's batch of its selected molecules as
``Batch.from_data_list`` would (nodes concatenated, edge indices offset, ``batch[i]`` the
molecule of node i), with tensor gathers instead of Python objects. Per-member minibatches
have different node counts, so the members are evaluated one by one (``batch_path =
"loop"``); a selection shared by every member also vmaps.
"""

from __future__ import annotations

import torch

from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.molecule_data import (
    N_EDGE_FEATURES,
    N_NODE_FEATURES,
    Graphs,
    MoleculeData,
    load_qm9,
)
from reduced_dynamics.tasks.molecules import MoleculesConfig


class _Split:
    """One split's graphs as tensors, for `MoleculesTorch.collate`."""

    def __init__(self, tt: TorchTask, g: Graphs) -> None:
        self.x = tt.tensor(g.x)
        self.edge_index = tt.tensor(g.edge_index)
        self.edge_attr = tt.tensor(g.edge_attr)
        self.node_ptr = tt.tensor(g.node_ptr)
        self.edge_ptr = tt.tensor(g.edge_ptr)
        self.n_nodes = self.node_ptr.diff()
        self.n_edges = self.edge_ptr.diff()


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``cat([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    first = torch.cumsum(counts, 0) - counts  # where each range begins in the output
    pos = torch.arange(total, device=counts.device)
    return pos + torch.repeat_interleave(starts - first, counts, output_size=total)


class MoleculesTorch(TorchTask):
    """Graph regression of the standardised polarizability (module docstring)."""

    batch_path = "loop"  # a member's graph batch is its own size

    def __init__(self, config: MoleculesConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu", data: MoleculeData | None = None
                 ) -> None:
        super().__init__(config, dtype, device)
        if data is None:
            data = load_qm9(n_molecules=config.n_molecules, data_seed=config.data_seed,
                            n_train=config.n_train, n_test=config.n_test)
        self.data = data
        self.splits = {"train": _Split(self, data.train), "test": _Split(self, data.test)}
        self.y = {"train": self.tensor(data.y_train), "test": self.tensor(data.y_test)}
        self.subset_seed = config.data_seed

    def new_module(self) -> torch.nn.Module:
        """NNConv 11→32→16, add-pool, 16→32→1 (`reduced_dynamics.models.gcnn`)."""
        from reduced_dynamics.models.gcnn import MoleculeNet

        return MoleculeNet(N_NODE_FEATURES, N_EDGE_FEATURES, self.config.conv,
                           self.config.readout)

    def n_examples(self, split: str) -> int:
        return len(self.y[split])

    def subset_order(self) -> torch.Tensor:
        """The training set is already the first n_train of a seeded permutation of the
        pool (`molecule_data`): the subset of size N is its first N molecules."""
        if self._order is None:
            self._order = torch.arange(self.n_examples("train"), device=self.device)
        return self._order

    def collate(self, rep: torch.Tensor | None, split: str,
                index: torch.Tensor | None = None) -> tuple:
        """``(x, edge_index, edge_attr, batch, n_graphs)`` of the molecules ``index``."""
        s = self.splits[split]
        if index is None:
            index = torch.arange(self.n_examples(split), device=self.device)
        counts, ecounts = s.n_nodes[index], s.n_edges[index]
        nodes = _ranges(s.node_ptr[index], counts)
        edges = _ranges(s.edge_ptr[index], ecounts)
        first = torch.cumsum(counts, 0) - counts  # each molecule's first node in the batch
        shift = torch.repeat_interleave(first, ecounts, output_size=edges.numel())
        graph = torch.arange(len(index), device=self.device)
        batch = torch.repeat_interleave(graph, counts, output_size=nodes.numel())
        return (s.x[nodes], s.edge_index[:, edges] + shift, s.edge_attr[edges], batch,
                len(index))

    def inputs(self, rep: torch.Tensor | None, split: str,
               index: torch.Tensor | None = None) -> tuple:
        return self.collate(rep, split, index)

    def _error(self, pred: torch.Tensor, split: str, index: torch.Tensor | None
               ) -> torch.Tensor:
        return pred - (self.y[split] if index is None else self.y[split][index])

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """MSE on the standardised target, mean over molecules."""
        return example_mean(self._error(pred, split, index).pow(2), weight)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction of molecules with |error| < ``acc_tolerance`` (standard deviations)."""
        ok = (self._error(pred, split, index).abs() < self.config.acc_tolerance).to(pred.dtype)
        return example_mean(ok, weight)
