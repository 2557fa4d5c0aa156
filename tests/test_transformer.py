"""The one-layer modular-addition transformer (SPEC §10)."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from torch.func import functional_call, stack_module_state, vmap  # noqa: E402

from reduced_dynamics.models.transformer import (  # noqa: E402
    ModularTransformer,
    modular_addition_tokens,
)


def _model(seed: int, p: int = 7) -> ModularTransformer:
    torch.manual_seed(seed)
    return ModularTransformer(p, d_model=16, n_heads=2, d_head=8, d_mlp=32)


def test_shapes_and_data():
    tokens, labels = modular_addition_tokens(7)
    assert tokens.shape == (49, 3) and bool((tokens[:, 2] == 7).all())
    assert labels[3 * 7 + 5].item() == (3 + 5) % 7
    assert _model(0)(tokens).shape == (49, 7)


def test_causal_mask_hides_later_tokens():
    """Positions 0 and 1 of the residual stream cannot see the token at position 2."""
    model = _model(0)
    r1 = model.residual(torch.tensor([[1, 2, 7]]))
    r2 = model.residual(torch.tensor([[1, 2, 3]]))
    torch.testing.assert_close(r1[:, :2], r2[:, :2], rtol=0, atol=0)
    assert not torch.allclose(r1[:, 2], r2[:, 2])
    assert not torch.equal(model(torch.tensor([[1, 2, 7]])), model(torch.tensor([[1, 5, 7]])))


def test_vmapped_members_equal_each_module_alone():
    tokens, _ = modular_addition_tokens(7)
    members = [_model(s) for s in (0, 1, 2)]
    params, buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")

    def one(p, b, x):
        return functional_call(base, (p, b), (x,))

    out = vmap(one, in_dims=(0, 0, None))(params, buffers, tokens)
    for k, m in enumerate(members):
        torch.testing.assert_close(out[k], m(tokens), rtol=1e-5, atol=1e-6)


def test_a_few_adam_steps_fit_the_training_pairs():
    tokens, labels = modular_addition_tokens(7)
    model = _model(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(tokens), labels)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first
