"""A small message-passing network in torch-geometric's calling convention.

``forward(x, edge_index, edge_attr, batch)`` takes a batch of graphs as torch-geometric's
``Batch`` holds it: node features concatenated ``(N, d_node)``, edge indices offset into
them ``(2, E)``, edge features ``(E, d_edge)``, and ``batch[i]`` the graph of node i. One
round of messages ``relu(W_m h_src + W_e e)`` summed into their target nodes, then the
nodes summed per graph (add-pool) and read out: one value per graph. The sums are
``index_add`` (torch-geometric's scatter), which ``torch.func.vmap`` batches.
"""

from __future__ import annotations

import torch
from torch import nn


class GraphNet(nn.Module):
    """Node and edge encoders, one round of summed messages, add-pool, linear read-out."""

    def __init__(self, d_node: int = 4, d_edge: int = 2, hidden: int = 8) -> None:
        super().__init__()
        self.node = nn.Linear(d_node, hidden)
        self.edge = nn.Linear(d_edge, hidden)
        self.message = nn.Linear(hidden, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                batch: torch.Tensor) -> torch.Tensor:
        """-> ``(n_graphs,)``, ``n_graphs = batch.max() + 1``."""
        h = torch.relu(self.node(x))
        src, dst = edge_index
        msg = torch.relu(self.message(h[src]) + self.edge(edge_attr))
        h = torch.relu(h + torch.zeros_like(h).index_add(0, dst, msg))
        pooled = h.new_zeros(int(batch.max()) + 1, h.shape[-1]).index_add(0, batch, h)
        return self.readout(pooled)[..., 0]
