"""Shared fixtures: small landscape Datasets built without torch."""

from __future__ import annotations

import numpy as np
import pytest

from reduced_dynamics.io.landscape_file import landscape_dataset


def make_landscape(n_w: int = 6, n_m: int = 5, *, with_m: bool = True):
    """A small, valid landscape with an L-shaped train loss and a U-shaped test loss."""
    w = np.geomspace(1.0, 100.0, n_w)
    m = np.linspace(0.0, 1.0, n_m) if with_m else None
    shape = (n_w, n_m) if with_m else (n_w,)
    u = np.log(w)[:, None] if with_m else np.log(w)
    mm = m[None, :] if with_m else 0.0
    train = np.exp(-2.0 * u) * (1 + mm) * np.ones(shape)
    test = (u - 1.5) ** 2 + mm * np.ones(shape)
    variables = {
        "train_loss": train,
        "test_loss": test,
        "train_acc": np.clip(1 - train, 0, 1),
        "test_acc": np.clip(1 - test, 0, 1),
        "dtrain_dw": -2.0 * train / w.reshape(-1, *([1] * (len(shape) - 1))),
        "tangent_grad_ratio": np.full(shape, 0.01),
        "converged": np.ones(shape, bool),
    }
    if with_m:
        variables["dtrain_dm"] = np.exp(-2.0 * u) * np.ones(shape)
    return landscape_dataset(w, m, variables, task="analytic", preset="test",
                             config={"note": "test fixture"}, w0=10.0, history="conftest")


@pytest.fixture
def landscape():
    return make_landscape()


@pytest.fixture
def keep_torch_threads():
    """`--threads` sets torch's thread count for the whole process: restore it."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def short_checkpoints(monkeypatch):
    """The toy task's training checkpoints every 5 steps (not part of the fingerprint)."""
    import dataclasses

    from reduced_dynamics.tasks import REGISTRY

    entry = REGISTRY["toy-addition"]
    monkeypatch.setitem(REGISTRY, "toy-addition", dataclasses.replace(
        entry, train=dataclasses.replace(entry.train, checkpoint_every=5)))


def assert_one_error(rc: int, err: str, *fragments: str) -> None:
    """Exit status 2, exactly one ``error:`` line, containing every fragment."""
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, err
