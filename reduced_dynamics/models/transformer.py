"""A one-layer transformer for modular addition (Nanda et al. 2023; SPEC §10).

Tokens ``a b =`` (vocabulary p + 1, ``=`` is token p) go through a token and a positional
embedding, one attention block (``n_heads`` heads of ``d_head``, causal mask, no biases) and
one ReLU MLP, both residual, no LayerNorm; the logits over the p answers are read at the
last position:

    x₀ = W_E[t] + W_pos                          (3, d_model)
    x₁ = x₀ + Σ_h softmax(mask(q_h k_hᵀ / √d_head)) v_h W_O,h
    x₂ = x₁ + W_out ReLU(W_in x₁ + b_in) + b_out
    logits = x₂[-1] W_U                          (p,)

Initialisation is Nanda's (every matrix N(0, 1/fan_in), biases 0), which is this module's
"default init": w0 is its norm. The module is written for ``torch.func``: no in-place
updates, no data-dependent control flow, so ``vmap(functional_call(...))`` batches it.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ModularTransformer(nn.Module):
    """One attention block + one MLP, residual, no LayerNorm; logits at the last token."""

    def __init__(self, p: int, d_model: int = 128, n_heads: int = 4, d_head: int = 32,
                 d_mlp: int = 512, n_ctx: int = 3) -> None:
        super().__init__()
        self.p, self.n_heads, self.d_head = p, n_heads, d_head

        def matrix(*shape: int, fan_in: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape) / math.sqrt(fan_in))

        self.embed = matrix(p + 1, d_model, fan_in=d_model)
        self.pos = matrix(n_ctx, d_model, fan_in=d_model)
        self.w_q = matrix(n_heads, d_model, d_head, fan_in=d_model)
        self.w_k = matrix(n_heads, d_model, d_head, fan_in=d_model)
        self.w_v = matrix(n_heads, d_model, d_head, fan_in=d_model)
        self.w_o = matrix(n_heads, d_head, d_model, fan_in=n_heads * d_head)
        self.w_in = matrix(d_model, d_mlp, fan_in=d_model)
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.w_out = matrix(d_mlp, d_model, fan_in=d_mlp)
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.unembed = matrix(d_model, p, fan_in=d_model)
        self.register_buffer("causal", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)),
                             persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens: (n, n_ctx)`` integer -> logits ``(n, p)`` at the last position."""
        return self.residual(tokens)[:, -1] @ self.unembed

    def residual(self, tokens: torch.Tensor) -> torch.Tensor:
        """The residual stream x₂ ``(n, n_ctx, d_model)`` after the block."""
        x = self.embed[tokens] + self.pos  # (n, c, d)
        q = torch.einsum("ncd,hde->nhce", x, self.w_q)
        k = torch.einsum("ncd,hde->nhce", x, self.w_k)
        v = torch.einsum("ncd,hde->nhce", x, self.w_v)
        scores = torch.einsum("nhqe,nhke->nhqk", q, k) / math.sqrt(self.d_head)
        scores = scores.masked_fill(~self.causal, float("-inf"))
        attn = torch.softmax(scores, dim=-1)
        z = torch.einsum("nhqk,nhke->nhqe", attn, v)
        x = x + torch.einsum("nhce,hed->ncd", z, self.w_o)
        return x + torch.relu(x @ self.w_in + self.b_in) @ self.w_out + self.b_out


def modular_addition_tokens(p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair: tokens ``(p², 3)`` = (a, b, p) and labels ``(a + b) mod p``."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    return tokens, (a + b) % p
