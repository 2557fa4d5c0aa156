"""The multilayer perceptron of the toy-addition decoder and the teacher–student networks."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh}


class MLP(nn.Sequential):
    """``nn.Linear`` layers of ``layer_sizes`` with ``activation`` between them (not after
    the last), at PyTorch's default init: an ordinary ``nn.Sequential`` whose parameters are
    ``0.weight, 0.bias, 2.weight, ...``. Built in this order, a seeded MLP is exactly the one
    a user gets from ``torch.manual_seed(seed)`` and the same ``nn.Linear`` calls.
    """

    def __init__(self, layer_sizes: Sequence[int], activation: str = "relu",
                 negative_slope: float = 0.2) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {list(ACTIVATIONS)}, got "
                             f"{activation!r}")
        layers: list[nn.Module] = []
        for k, (a, b) in enumerate(pairwise(layer_sizes)):
            layers.append(nn.Linear(a, b))
            if k < len(layer_sizes) - 2:
                act = ACTIVATIONS[activation]
                layers.append(act(negative_slope) if activation == "leaky_relu" else act())
        super().__init__(*layers)
        self.layer_sizes = tuple(int(s) for s in layer_sizes)
        self.activation = activation
        self.negative_slope = float(negative_slope)
