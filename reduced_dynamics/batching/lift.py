"""The function-preserving lift of a ReLU MLP to a larger norm (Omnigrok footnote 2), torch.

For stacked MLP leaves ``[W1, b1, W2, b2, ...]`` (`batching.mlp_bmm` or module order) with a
positively homogeneous activation, scaling the first layer by c > 0 and the second layer's
weights by 1/c keeps every output:

    W2 relu(c (W1 x + b1)) / c = W2 relu(W1 x + b1).

The squared norm becomes ``c² A + B / c² + C`` (A = |W1|² + |b1|², B = |W2|², C = the
rest), so for a target norm w' above the present one, one c per member solves

    A u² - (w'² - C) u + B = 0,   u = c²   (the larger root; it exists and exceeds 1,
                                            since the norm at u = 1 is below w').

This is why l~_train(w) cannot rise with w for such a decoder, and the continuation probe
(`landscape.continuation`) starts each larger sphere from the lifted minimiser of the one
below it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from reduced_dynamics.batching.stacking import Params, per_member, sq_norm


def lift_to_norm(theta: Sequence[torch.Tensor], target: torch.Tensor) -> Params:
    """New stacked leaves, each member on its sphere ``target[b]`` with the same function.

    ``theta``: ``[W1, b1, W2, ...]`` (B, ...) of a ReLU MLP with at least two layers;
    ``target`` (B,) norms >= the present ones (a member already there is returned as it is).
    """
    if len(theta) < 3:
        raise ValueError(f"the lift needs the leaves [W1, b1, W2, ...] of an MLP with at least "
                         f"two layers, got {len(theta)} leaves")
    with torch.no_grad():
        a = sq_norm(theta[:2])
        b = sq_norm(theta[2:3])
        c_rest = sq_norm(theta) - a - b
        now = sq_norm(theta).sqrt()
        if bool((target < now * (1 - 1e-6)).any()):
            raise ValueError("`target` must not be below the present norms: the lift only "
                             "raises the norm")
        rhs = target.pow(2) - c_rest
        u = (rhs + (rhs.pow(2) - 4 * a * b).clamp_min(0).sqrt()) / (2 * a)
        c = u.clamp_min(1.0).sqrt()
        out = [p.detach().clone() for p in theta]
        for k in (0, 1):
            out[k].mul_(per_member(c, out[k]))
        out[2].div_(per_member(c, out[2]))
    return out
