"""Landscapes with known answers, for tests of the prediction engine (and yours).

`exact_landscape`: region II (u ≥ u_b) has l_train exactly constant, so a path there moves
as u(t) = u_start − η_D γ t, m constant; test accuracy is a step between two nodes, so its
bilinear interpolant reaches 0.95 exactly at u_g = u[IG] + 0.05 (u[IG+1] − u[IG]). The
ramp below u_b is (u_b − u)₊ for PCHIP node derivatives (exact in every cell but the kink
cell) and (u_b − u)₊³ for splines (a cubic spline with a knot at a node: exact everywhere).
"""

from __future__ import annotations

import numpy as np

from reduced_dynamics.io.landscape_file import landscape_dataset

IB, IT, IG = 12, 16, 20  # boundary node, test-loss knot, accuracy step cell
W0 = 2.0


def grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    alpha = np.geomspace(0.1, 100.0, 31)
    return alpha, np.log(alpha * W0), np.linspace(0.0, 1.0, 11) ** 2


def exact_landscape(derivatives: str = "pchip", transform: str = "log"):
    """(Dataset, constants) of the module docstring's landscape."""
    _, u, m = grid()
    p = 1 if derivatives == "pchip" else 3
    if transform == "log":
        a_train = 5.0 if p == 1 else 0.5
        b_test = 4.0 if p == 1 else 12.0
    else:
        a_train = 0.1 if p == 1 else 0.5
        b_test = 0.02 if p == 1 else 0.2
    l0 = l1 = 1e-3
    U, M = u[:, None], m[None, :]
    ub, ut = u[IB], u[IT]
    ramp = np.clip(ub - U, 0, None) ** p * (1 + M)
    dramp_du = -p * np.clip(ub - U, 0, None) ** (p - 1) * (1 + M) * (U < ub)
    dramp_dm = np.clip(ub - U, 0, None) ** p
    up = np.broadcast_to(np.clip(U - ut, 0, None) ** p, ramp.shape)
    dramp_dm = np.broadcast_to(dramp_dm, ramp.shape)
    if transform == "log":
        train = l0 * np.exp(a_train * ramp)
        dl_du, dl_dm = train * a_train * dramp_du, train * a_train * dramp_dm
        test = l1 * np.exp(b_test * up)
    else:
        train = l0 + a_train * ramp
        dl_du, dl_dm = a_train * dramp_du, a_train * dramp_dm
        test = l1 + b_test * up
    test_acc = np.broadcast_to(np.where(u <= u[IG], 1.0, 0.0)[:, None], ramp.shape)
    shape = ramp.shape
    variables = {
        "train_loss": train, "test_loss": test,
        "train_acc": (train <= 0.05).astype(float), "test_acc": test_acc.copy(),
        "dtrain_dw": dl_du / np.exp(U), "dtrain_dm": dl_dm,
        "converged": np.ones(shape, bool), "tangent_grad_ratio": np.zeros(shape),
    }
    ds = landscape_dataset(np.exp(u), m, variables, task="analytic", preset=derivatives,
                           config={"p": p}, w0=W0)
    consts = {"u": u, "m": m, "p": p, "a_train": a_train, "b_test": b_test, "l0": l0,
              "l1": l1, "u_b": ub, "u_t": ut,
              "u_g": u[IG] + 0.05 * (u[IG + 1] - u[IG]), "transform": transform}
    return ds, consts


def contour_u_exact(c: dict, m: float, theta: float) -> float:
    """u where l_train = theta on the line m (below u_b)."""
    if c["transform"] == "log":
        r = np.log(theta / c["l0"]) / (c["a_train"] * (1 + m))
    else:
        r = (theta - c["l0"]) / (c["a_train"] * (1 + m))
    return c["u_b"] - r ** (1.0 / c["p"])


def loss_crossing_exact(c: dict, theta_test: float) -> float:
    """u > u_t where l_test = theta_test."""
    if c["transform"] == "log":
        r = np.log(theta_test / c["l1"]) / c["b_test"]
    else:
        r = (theta_test - c["l1"]) / c["b_test"]
    return c["u_t"] + r ** (1.0 / c["p"])


def poly_landscape():
    """l_train a cubic polynomial in (u, m): reproduced exactly by the spline interpolant,
    so the ODE right-hand side is smooth (for the convergence-order test)."""
    u = np.linspace(-0.5, 3.0, 15)
    m = np.linspace(0.0, 1.0, 9)
    U, M = u[:, None], m[None, :]
    train = 0.5 * (U - 1.2) ** 2 + 0.2 * (U - 1.2) * M + 0.5 * (M - 0.5) ** 2 + 0.05 * U**3
    shape = train.shape
    variables = {
        "train_loss": train, "test_loss": train + M, "train_acc": np.zeros(shape),
        "test_acc": np.zeros(shape), "dtrain_dw": np.zeros(shape), "dtrain_dm": np.zeros(shape),
        "converged": np.ones(shape, bool), "tangent_grad_ratio": np.zeros(shape),
    }
    return landscape_dataset(np.exp(u), m, variables, task="poly", preset="cubic", config={},
                             w0=1.0)


def flat_landscape(slope: float = 0.0):
    """l_train = 1 + slope·u (linear transform: exact for either derivative method)."""
    _, u, m = grid()
    U = np.broadcast_to(u[:, None], (u.size, m.size))
    train = 1.0 + slope * U
    shape = train.shape
    variables = {
        "train_loss": train.copy(), "test_loss": np.ones(shape), "train_acc": np.zeros(shape),
        "test_acc": np.zeros(shape), "dtrain_dw": slope / np.exp(U),
        "dtrain_dm": np.zeros(shape), "converged": np.ones(shape, bool),
        "tangent_grad_ratio": np.zeros(shape),
    }
    return landscape_dataset(np.exp(u), m, variables, task="flat", preset="flat", config={},
                             w0=W0)
