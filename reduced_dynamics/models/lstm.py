"""An LSTM sequence classifier made of ``nn.Embedding`` and ``nn.Linear`` layers.

``nn.LSTM`` and ``nn.LSTMCell`` call fused kernels (``aten::lstm``, ``aten::lstm_cell``)
that have no ``torch.func.vmap`` batching rule (torch 2.x), so B members of them cannot be
one vectorised model. This module computes the same recurrence from plain layers, per layer
and time step t (gates in nn.LSTM's order i, f, g, o):

    i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g),     h_t = sigmoid(o) tanh(c_t)

and classifies the last hidden state of the last layer with a linear read-out. Copying an
``nn.LSTM``'s ``weight_ih_l{k}``/``weight_hh_l{k}``/biases into ``cells[k]`` gives the
same outputs (tested); the default init draws from nn.LSTM's distribution.
"""

from __future__ import annotations

import torch
from torch import nn


class LSTMCellLinear(nn.Module):
    """One LSTM layer's cell: ``ih`` and ``hh`` are ``nn.Linear(·, 4 hidden)``."""

    def __init__(self, d_in: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.ih = nn.Linear(d_in, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.LSTM's default init: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = self.hidden ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class LSTMClassifier(nn.Module):
    """Tokens ``(n, L)`` (long) -> logits ``(n, n_classes)``: embedding, ``layers`` LSTM
    layers, a linear read-out of the last time step."""

    def __init__(self, vocab: int, embed: int, hidden: int, n_classes: int,
                 layers: int = 1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.cells = nn.ModuleList(LSTMCellLinear(embed if k == 0 else hidden, hidden)
                                   for k in range(layers))
        self.readout = nn.Linear(hidden, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens)
        for cell in self.cells:
            h = x.new_zeros(*x.shape[:-2], cell.hidden)
            c = h
            outputs = []
            for t in range(x.shape[-2]):
                h, c = cell(x[..., t, :], h, c)
                outputs.append(h)
            x = torch.stack(outputs, dim=-2)
        return self.readout(x[..., -1, :])
