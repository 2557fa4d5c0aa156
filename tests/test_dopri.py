"""Dormand–Prince kernels (stepper, events, driver): tableau, dense output, root finding,
order, events, cost, and the pure-Python bodies of the kernels (``.py_func`` and a
``NUMBA_DISABLE_JIT=1`` subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import RK45, solve_ivp
from scipy.optimize import brentq

from reduced_dynamics.engine import dopri, driver, events
from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.predict import analyze_path, integrate
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.engine.solve import kernel_options
from reduced_dynamics.testing.analytic import exact_landscape, poly_landscape
from reduced_dynamics.testing.synthetic import synthetic_landscape

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def syn():
    return prepare_landscape(synthetic_landscape())


def _opts(prep, t_max=1e9, **solver):
    so = SolverOptions(t_max=t_max, **solver)
    return kernel_options(prep.interp, EventOptions(), so, t_max)


def _f(prep, par):
    it = prep.interp

    def f(t, y):
        return np.array(dy.velocity(it.ug, it.mg, it.coef, it.log_scale, par[0], par[1], par[2],
                                    y[0], y[1]))
    return f


def _reference_step(f, y, h):
    """One step of the generic explicit RK method with scipy's RK45 tableau."""
    K = np.zeros((7, 2))
    K[0] = f(0, y)
    for i in range(1, 6):
        K[i] = f(0, y + h * RK45.A[i, :i] @ K[:i])
    y1 = y + h * RK45.B @ K[:6]
    K[6] = f(0, y1)
    return y1, h * RK45.E @ K, K


def test_step_and_dense_output_match_scipy_tableau(syn):
    it = syn.interp
    par = np.array([1e-3, 1e-3, 1e-5])
    iopt, _ = _opts(syn)
    f = _f(syn, par)
    y = np.array([np.log(4 * 14.0), 0.1])
    h = 300.0
    K = np.empty((7, 2))
    K[0] = f(0, y)
    ytmp, y1, err, out, Q = (np.empty(2) for _ in range(5))
    dopri.dp_step(it.ug, it.mg, it.coef, iopt, par, y, h, K, ytmp, y1, err)
    y_ref, err_ref, K_ref = _reference_step(f, y, h)
    assert np.allclose(y1, y_ref, rtol=1e-14, atol=1e-15)
    assert np.allclose(err, err_ref, rtol=1e-10, atol=1e-18)
    Q = np.empty((2, 4))
    dopri.dense_coeffs(K, Q)
    for sigma in (0.0, 0.3, 0.77, 1.0):
        dopri.dense_eval(y, Q, h, sigma, out)
        ref = y + h * (K_ref.T @ RK45.P) @ (sigma ** np.arange(1, 5))
        assert np.allclose(out, ref, rtol=1e-14, atol=1e-15)
    dopri.dense_eval(y, Q, h, 1.0, out)
    assert np.allclose(out, y1, rtol=1e-14)
    assert np.allclose(dopri.C, RK45.C) and np.allclose(dopri.E, RK45.E)


def test_error_norm_is_scipy_rms():
    err, y0, y1 = np.array([1e-6, -3e-7]), np.array([1.0, -2.0]), np.array([1.5, 0.1])
    scale = 1e-8 + 1e-4 * np.maximum(np.abs(y0), np.abs(y1))
    assert dopri.error_norm(err, y0, y1, 1e-4, 1e-8) == pytest.approx(
        np.linalg.norm(err / scale) / np.sqrt(2), rel=1e-14)


def test_brent_on_dense_output_matches_brentq(syn):
    it = syn.interp
    par = np.array([1e-3, 1e-3, 1e-5])
    iopt, fopt = _opts(syn)
    f = _f(syn, par)
    y = np.array([np.log(4 * 14.0), 0.1])
    h = 1e6
    _, _, K = _reference_step(f, y, h)
    Q = np.ascontiguousarray(K.T @ RK45.P)
    tmp = np.empty(2)

    def g(s):
        return events.dense_event(0, it.ug, it.mg, it.coef, it.nodes, iopt, fopt, par, y, Q, h,
                                  s, tmp)
    g0, g1 = g(0.0), g(1.0)
    assert g0 > 0 >= g1  # the step crosses l_train = 0.05
    s, nev = events.brent(0, it.ug, it.mg, it.coef, it.nodes, iopt, fopt, par, y, Q, h, 0.0,
                          1.0, g0, g1, tmp)
    assert s == pytest.approx(brentq(g, 0.0, 1.0, xtol=1e-15), abs=1e-13)
    assert g(s) <= 0 and 0 < nev < 60
    s2, _ = events.locate_first(0, it.ug, it.mg, it.coef, it.nodes, iopt, fopt, par, y, Q, h,
                                g0, 4, tmp)
    assert s2 == pytest.approx(s, abs=1e-13)


def test_fixed_step_convergence_order_is_five():
    """Regression of ln(error) on ln(h) in fixed-step mode on a smooth (polynomial) problem."""
    prep = prepare_landscape(poly_landscape(),
                             InterpolantOptions(transform="linear", derivatives="spline"))
    par = (1.0, 1.0, 0.5)
    T, y0 = 2.0, [2.0, 0.6]
    ref = solve_ivp(_f(prep, par), (0, T), y0, method="DOP853", rtol=1e-13, atol=1e-15).y[:, -1]
    hs, errs = [], []
    for n in (4, 8, 16, 32, 64):
        so = SolverOptions(fixed_step=T / n, t_max=T, t_first=1e-3, n_times=3)
        r = integrate(prep, (np.exp(y0[0]), y0[1]), par[2], par[0], par[1], solver=so)
        end = r.sel(event="end").squeeze()
        y = np.array([np.log(end.w_event.item()), end.m_event.item()])
        assert r.t_end.item() == pytest.approx(T, rel=1e-14)
        assert r.n_steps.item() == n
        hs.append(T / n)
        errs.append(np.abs(y - ref).max())
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert 4.7 < slope < 5.5, (slope, errs)


def test_event_times_agree_with_solve_ivp_dop853(syn):
    start, par = (4.0, 0.1), (1e-3, 1e-3, 1e-5)
    so = SolverOptions(rtol=1e-10, atol=1e-12, t_max=5e8)
    r = integrate(syn, start, par[2], par[0], par[1], solver=so)
    assert r.status.item() == "ok"
    it = syn.interp
    iopt, fopt = _opts(syn, t_max=5e8)
    p = np.array(par)

    def event(kind):
        def g(t, y):
            return dy.event_value(kind, it.ug, it.mg, it.coef, it.nodes, iopt, fopt, p, y[0],
                                  y[1])
        g.direction = -1
        return g

    sol = solve_ivp(_f(syn, par), (0, 1.01 * r.t_grok.item()), [np.log(4 * 14.0), 0.1],
                    method="DOP853", rtol=1e-12, atol=1e-14, events=[event(0), event(1)])
    assert r.t_overfit.item() == pytest.approx(sol.t_events[0][0], rel=1e-6)
    assert r.t_grok.item() == pytest.approx(sol.t_events[1][0], rel=1e-6)
    w_grok = r.w_event.sel(event="grok").item()
    assert np.log(w_grok) == pytest.approx(sol.y_events[1][0][0], abs=1e-6)


def test_cost_of_easy_paths():
    ds, c = exact_landscape()
    # pure weight-decay drift across ~8 cells: about one step per cell
    r = integrate(ds, (np.exp(c["u"][28]) / 2.0, 0.3), 1e-3, 1e-3, 1e-3,
                  solver=SolverOptions(stop_at_grok=True, method="dopri5", step_cap=1.0))
    assert r.status.item() == "ok"
    assert r.nfev.item() <= 110 and r.n_rejected.item() == 0
    syn = synthetic_landscape()
    r = integrate(syn, (35.5, 0.2), 1e-5, 1e-3, 1e-3, solver=SolverOptions(method="dopri5"))
    assert r.status.item() == "ok" and r.nfev.item() <= 2500, r.nfev.item()


def test_integrate_path_python_body_matches_jit(syn):
    """``integrate_path.py_func`` (its body as Python, inner kernels compiled) == the jit."""
    it = syn.interp
    iopt, fopt = _opts(syn, t_max=1e9, rtol=1e-5)
    iopt[dy.I_REC_SUB] = 2
    y0 = np.array([[np.log(4 * 14.0), 0.1], [np.log(35.5 * 14.0), 0.2]])
    par = np.array([[1e-3, 1e-3, 1e-5], [1e-3, 1e-3, 3e-5]])
    t_out = np.geomspace(1.0, 1e9, 20)

    def run(fn):
        n = 2
        out = dict(y_out=np.empty((n, 20, 2)), ev_t=np.empty((n, 4)), ev_y=np.empty((n, 4, 2)),
                   status=np.empty(n, np.int64), counts=np.empty((n, 4), np.int64),
                   rec_t=np.empty((n, 5000)), rec_y=np.empty((n, 5000, 2)),
                   rec_n=np.empty(n, np.int64))
        for p in range(n):
            fn(p, y0, par, it.ug, it.mg, it.coef, it.nodes, iopt, fopt, t_out, *out.values())
        return out

    a, b = run(driver.integrate_path), run(driver.integrate_path.py_func)
    assert np.array_equal(a["status"], b["status"])
    assert np.array_equal(a["counts"], b["counts"])
    assert np.allclose(a["ev_t"], b["ev_t"], rtol=1e-9, equal_nan=True)
    assert np.allclose(a["y_out"], b["y_out"], rtol=1e-9)
    k = a["rec_n"][0]
    assert k == b["rec_n"][0] and np.allclose(a["rec_y"][0, :k], b["rec_y"][0, :k])


def test_inner_kernels_python_bodies_match_jit(syn):
    """The kernels `integrate_path` calls, as Python and compiled, on the same inputs."""
    rng = np.random.default_rng(3)
    err, y0, y1 = rng.normal(size=(3, 2))
    expected = np.sqrt(np.mean((err / (1e-9 + 1e-6 * np.maximum(abs(y0), abs(y1)))) ** 2))
    for f in (dopri.error_norm, dopri.error_norm.py_func):
        assert f(err, y0, y1, 1e-6, 1e-9) == pytest.approx(expected, rel=1e-12)
    it = syn.interp
    for u, m in [(np.log(4 * 14.0), 0.1), (np.log(35.5 * 14.0), 0.2), (np.log(20.0), 0.7)]:
        args = (it.ug, it.mg, it.coef, True, 1e-3, 1e-3, 1e-5, u, m)
        assert dy.velocity.py_func(*args) == pytest.approx(dy.velocity(*args), rel=1e-12)


_SCRIPT = """
import json, numpy as np
from reduced_dynamics.engine.options import SolverOptions
from reduced_dynamics.engine.predict import analyze_path, integrate
from reduced_dynamics.testing.synthetic import synthetic_landscape
so = SolverOptions(rtol=1e-4, atol=1e-7, max_steps=2000, n_times=5, record_sub=1)
r = integrate(synthetic_landscape(), [(4.0, 0.1), (35.5, 0.2)], [1e-5, 1e-4], solver=so)
a = analyze_path(synthetic_landscape(), 3e-5, start=(35.5, 0.2), solver=so)
print(json.dumps({k: np.asarray(r[k].values, float).ravel().tolist() for k in
                  ("t_overfit", "t_grok", "t_E", "t_end", "nfev", "w", "m")}
                 | {"status": r.status.values.ravel().tolist(),
                    "t_point": a.t_point.values.tolist(), "n": int(a.sizes["sample"])}))
"""


@pytest.mark.slow
def test_kernels_without_jit_agree_with_jit():
    """Run every kernel as plain Python (NUMBA_DISABLE_JIT=1, a subprocess) and compare."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    slow = json.loads(proc.stdout)
    so = SolverOptions(rtol=1e-4, atol=1e-7, max_steps=2000, n_times=5, record_sub=1)
    r = integrate(synthetic_landscape(), [(4.0, 0.1), (35.5, 0.2)], [1e-5, 1e-4], solver=so)
    a = analyze_path(synthetic_landscape(), 3e-5, start=(35.5, 0.2), solver=so)
    assert slow["status"] == r.status.values.ravel().tolist()
    for k in ("t_overfit", "t_grok", "t_E", "t_end", "w", "m"):
        assert np.allclose(slow[k], np.asarray(r[k].values, float).ravel(), rtol=1e-7,
                           equal_nan=True), k
    # point D is found on the recorded path, at the end of a slow stretch where a rounding
    # difference moves it far more than the events (the Rosenbrock step's finite-difference
    # Jacobian carries ~1e-8 relative rounding): measured 9e-7 between the two bodies
    assert np.allclose(slow["t_point"], a.t_point.values, rtol=1e-5, equal_nan=True)
    assert slow["n"] == a.sizes["sample"]
