"""Public API: analytic grokking times, closed form, γ sweeps, statuses, path analysis, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _statuses import assert_statuses_explained

from reduced_dynamics.engine.inputs import default_gammas, default_start
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.path_analysis import count_descents
from reduced_dynamics.engine.predict import analyze_path, integrate, predict_grokking_times
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.landscape_file import landscape_dataset, save_landscape
from reduced_dynamics.testing.analytic import (
    W0,
    contour_u_exact,
    exact_landscape,
    flat_landscape,
    loss_crossing_exact,
)
from reduced_dynamics.testing.synthetic import synthetic_landscape

CASES = [("pchip", "log"), ("pchip", "linear"), ("spline", "log"), ("spline", "linear")]


@pytest.fixture(scope="module")
def syn():
    return prepare_landscape(synthetic_landscape())


def _exact_file(tmp_path, derivatives, transform):
    ds, c = exact_landscape(derivatives, transform)
    path = save_landscape(ds, tmp_path / f"exact_{derivatives}_{transform}.nc")
    opts = InterpolantOptions(transform=transform, derivatives=derivatives)
    return path, c, opts


@pytest.mark.parametrize(("derivatives", "transform"), CASES)
def test_grokking_time_equals_closed_form_on_analytic_landscape(tmp_path, derivatives,
                                                                transform):
    path, c, opts = _exact_file(tmp_path, derivatives, transform)
    u_s, m_s = c["u"][27], 0.3
    gam, eta_d = np.array([1e-4, 1e-3, 1e-2]), np.array([1e-3, 3e-3])
    r = integrate(path, (np.exp(u_s) / W0, m_s), gam, eta_d, 1e-3, interpolant=opts)
    expected = (u_s - c["u_g"]) / (eta_d[None, :] * gam[:, None])
    assert np.allclose(r.t_grok.squeeze(("start", "eta_r")).values, expected, rtol=1e-6)
    assert (r.t_overfit == 0).all()  # starts in region II
    assert np.allclose(r.m_event.sel(event="grok"), m_s, atol=1e-12)
    assert (r.status == "ok").all()
    # grokking on the test loss instead: l_test <= 0.01
    ev = EventOptions(grok_on="loss", theta_test=0.01)
    r = integrate(path, (np.exp(u_s) / W0, m_s), gam, 1e-3, 1e-3, events=ev,
                  interpolant=opts)
    u_star = loss_crossing_exact(c, 0.01)
    assert u_s > u_star > c["u"][17 if c["p"] == 1 else 16]  # where the interpolant is exact
    assert np.allclose(r.t_grok.values.ravel(), (u_s - u_star) / (1e-3 * gam), rtol=1e-6)


@pytest.mark.parametrize(("derivatives", "transform"), CASES)
def test_closed_form_and_exponent_on_analytic_landscape(tmp_path, derivatives, transform):
    path, c, opts = _exact_file(tmp_path, derivatives, transform)
    u_s, m_s = c["u"][27], 0.3
    gam = np.geomspace(1e-4, 1e-2, 5)
    r = predict_grokking_times(path, gam, 1e-3, 1e-3, start=(np.exp(u_s) / W0, m_s),
                               interpolant=opts)
    u_d = contour_u_exact(c, m_s, 0.05)
    assert np.allclose(r.t_closed, (u_s - u_d) / (1e-3 * gam), rtol=1e-9)
    assert np.allclose(r.w_c, np.exp(u_d), rtol=1e-9)
    assert np.allclose(r.t_C, 0.0)  # no fast phase: C = A
    assert np.allclose(r.t_grok, (u_s - c["u_g"]) / (1e-3 * gam), rtol=1e-6)
    assert float(r.exponent) == pytest.approx(-1.0, abs=1e-7)
    assert float(r.exponent_stderr) < 1e-7 and int(r.n_fit) == 5
    assert np.isfinite(r.t_geometric).all()


def test_gamma_sweep_on_synthetic_landscape(syn):
    r = predict_grokking_times(syn)
    assert r.sizes["gamma"] == 7 and (r.status == "ok").all()
    g = r.gamma.values
    assert g.max() / g.min() >= 10**1.5 * 0.99
    assert -1.1 < float(r.exponent) < -0.85 and float(r.exponent_stderr) < 0.02
    assert (r.t_grok >= r.t_overfit).all() and np.allclose(r.delay, r.t_grok - r.t_overfit)
    ratio = r.t_closed / r.t_grok
    assert ((ratio > 0.5) & (ratio < 2)).all()
    tp = r.t_point.values
    assert np.all(tp[:, 0] == 0) and np.all(np.diff(tp[:, [0, 1, 2, 4]], axis=1) >= 0)
    assert np.all(tp[:, 3] <= tp[:, 4])
    assert set(r.point.values) == {"A", "B", "C", "D", "E"}


def test_integrate_output_layout(syn):
    r = integrate(syn, [(35.5, 0.2), (4.0, 0.1)], [1e-5, 3e-5], [1e-3, 2e-3], [0.0, 1e-3],
                  solver=SolverOptions(n_times=50))
    assert dict(r.sizes) == {"start": 2, "gamma": 2, "eta_d": 2, "eta_r": 2, "time": 50,
                             "event": 4}
    assert r.w.dims == ("start", "gamma", "eta_d", "eta_r", "time")
    assert r.time.values[0] == 0 and r.time.values[1] == 1.0
    assert np.allclose(r.start_alpha, [35.5, 4.0]) and np.allclose(r.start_w, [497.0, 56.0])
    assert np.isfinite(r.w).all() and np.isfinite(r.m).all()
    assert np.allclose(r.w.isel(time=0) - r.start_w, 0) and np.allclose(r.alpha, r.w / 14.0)
    # samples after the end hold the final state and are flagged
    held = r.w.where(r.ended)
    last = r.w_event.sel(event="end")
    assert np.allclose(held.max("time").fillna(last), last)
    assert_statuses_explained(r, syn.interp.w_range)
    # m frozen at its start (eta_r = 0) never groks on this landscape; with eta_r it does
    assert (r.status.sel(eta_r=0.0) == "no_grok_before_t_max").all()
    assert (r.status.sel(eta_r=1e-3) == "ok").all()
    assert r.attrs["time_units"].startswith("optimiser steps")
    # eta_r = 0 freezes m
    assert np.allclose(r.m.sel(eta_r=0.0) - r.start_m, 0)


def test_paths_end_in_a_status_without_nan(syn):
    gam = np.geomspace(1e-5, 10.0, 13)
    a_lo, a_hi = syn.alpha_range
    starts = [(a_lo, 0.0), (a_lo, 1.0), (a_hi, 0.0), (a_hi, 1.0), (1.0, 0.5), (a_hi, 0.5),
              (3.0, 0.0)]
    r = integrate(syn, starts, gam, 1e-3, [0.0, 1e-3], solver=SolverOptions(n_times=20))
    assert_statuses_explained(r, syn.interp.w_range)
    for k in ("w", "m", "t_end", "train_loss", "test_loss", "test_acc", "nfev"):
        assert np.isfinite(r[k]).all(), k
    end = r.sel(event="end")
    w_lo, w_hi = syn.interp.w_range
    assert ((end.w_event >= w_lo * (1 - 1e-12)) & (end.w_event <= w_hi * (1 + 1e-12))).all()
    assert ((end.m_event >= 0) & (end.m_event <= 1)).all()
    left = r.status == "left_domain"
    assert left.any()  # large gamma pushes paths out at w_min
    on_edge = np.isclose(end.w_event, w_lo) | np.isclose(end.w_event, w_hi)
    assert on_edge[left.values].all()


def test_left_domain_exact_exit_time_and_edges(tmp_path):
    path = save_landscape(flat_landscape(), tmp_path / "flat.nc")
    opts = InterpolantOptions(transform="linear")
    u_lo = np.log(0.1 * W0)
    r = integrate(path, (50.0, 0.4), 1e-3, 2e-3, 1e-3, interpolant=opts)
    assert r.status.item() == "left_domain"
    assert r.t_end.item() == pytest.approx((np.log(50 * W0) - u_lo) / 2e-6, rel=1e-9)
    assert r.w_event.sel(event="end").item() == pytest.approx(0.1 * W0, rel=1e-12)
    assert np.isnan(r.t_grok.item())
    # no weight decay, loss falling with w: gradient flow leaves at w_max
    up = save_landscape(flat_landscape(slope=-0.1), tmp_path / "slope.nc")
    r = integrate(up, (50.0, 0.4), 0.0, 1e-3, 1e-3, interpolant=opts)
    assert r.status.item() == "left_domain"
    assert r.w_event.sel(event="end").item() == pytest.approx(100 * W0, rel=1e-12)
    # nothing moves: stationary at once, never groks
    r = integrate(path, (50.0, 0.4), 0.0, 1e-3, 1e-3, interpolant=opts)
    assert r.status.item() == "no_grok_before_t_max" and r.t_E.item() == 0.0


def test_max_steps_and_t_max_statuses(syn):
    r = integrate(syn, (4.0, 0.1), 1e-5, solver=SolverOptions(max_steps=3))
    assert r.status.item() == "max_steps" and r.n_steps.item() + r.n_rejected.item() == 3
    r = integrate(syn, (35.5, 0.2), 1e-5, solver=SolverOptions(t_max=1e4))
    assert r.status.item() == "no_grok_before_t_max" and r.t_end.item() == 1e4
    r = integrate(syn, (35.5, 0.2), 1e-5, solver=SolverOptions(stop_at_grok=True))
    assert r.status.item() == "ok" and r.t_end.item() == r.t_grok.item()


def test_analyze_path_points_and_descents(syn):
    a = analyze_path(syn, 1e-5, start=(35.5, 0.2))
    assert a.status.item() == "ok" and a.sizes["sample"] > 100
    t = a.t.values
    assert np.all(np.diff(t) >= 0) and t[0] == 0 and t[-1] == a.t_end.item()
    assert np.isfinite(a.t_point).all() and a.t_point.sel(point="E") == t[-1]
    assert a.m_point.sel(point="A") == 0.2 and int(a.n_descents) >= 1
    assert a.attrs["E_is_stationary"] == 1
    for k in ("t_closed", "t_geometric", "L", "h", "theta"):
        assert np.isfinite(a[k].item()), k


def test_count_descents():
    assert count_descents(np.array([5.0, 4, 3, 2, 1])) == 1
    assert count_descents(np.array([1.0, 2, 3])) == 0
    assert count_descents(np.array([5.0, 3, 4, 2, 2.5, 1])) == 3
    assert count_descents(np.array([5.0, 3, 3.001, 2])) == 1  # below the 1 % prominence
    assert count_descents(np.array([1.0])) == 0


def test_one_dimensional_landscape_integrates():
    alpha = np.geomspace(0.1, 10, 21)
    train = 1.0 / (1.0 + alpha**4) + 1e-3
    shape = train.shape
    variables = {"train_loss": train, "test_loss": train, "train_acc": np.zeros(shape),
                 "test_acc": (alpha > 2).astype(float), "dtrain_dw": np.zeros(shape),
                 "converged": np.ones(shape, bool), "tangent_grad_ratio": np.zeros(shape)}
    ds = landscape_dataset(alpha * 2.0, None, variables, task="ts", preset="1d", config={},
                           w0=2.0)
    r = integrate(ds, (0.5, 0.0), [0.0, 1e-3], 1e-2, 0.0,
                  solver=SolverOptions(stop_at_grok=False))
    # w grows from alpha 0.5 down the loss and groks at alpha 2 with or without decay;
    # decay slows the growth and stops it at a smaller norm, where it balances the gradient
    assert r.status.values.ravel().tolist() == ["ok", "ok"]
    t0, t1 = r.t_grok.values.ravel()
    assert 0 < t0 < t1
    a0, a1 = r.alpha.isel(time=-1).values.ravel()
    assert 2.0 < a1 < a0
    assert np.isfinite(r.w).all() and "m" not in r  # the internal m axis is not shown


def test_defaults(syn):
    alpha, m = default_start(syn)
    assert alpha == pytest.approx(10 ** (-1 + 0.85 * 3), rel=0.01) and m == 0.2
    g = default_gammas(syn)
    assert g.size == 7 and np.all(np.diff(g) > 0)


def test_errors_name_argument_value_and_remedy(syn, tmp_path):
    with pytest.raises(InputError, match=r"`gamma` must be finite and >= 0, got -0\.1"):
        integrate(syn, (35.5, 0.2), -0.1)
    with pytest.raises(InputError, match=r"`gamma`.*nan"):
        integrate(syn, (35.5, 0.2), [1e-3, float("nan")])
    with pytest.raises(InputError, match=r"`eta_d` must be finite and > 0, got 0\.0"):
        integrate(syn, (35.5, 0.2), 1e-3, eta_d=0.0)
    with pytest.raises(InputError, match=r"`eta_r` must be finite and >= 0, got -1\.0"):
        integrate(syn, (35.5, 0.2), 1e-3, eta_r=-1.0)
    with pytest.raises(InputError, match=r"`start` \(alpha, m\) = \(500, 0\.2\) lies outside "
                                         r"the landscape grid: alpha must be in \[0\.1, 100\]"):
        integrate(syn, (500.0, 0.2), 1e-3)
    with pytest.raises(InputError, match=r"m in \[0, 1\]"):
        integrate(syn, (5.0, 1.5), 1e-3)
    with pytest.raises(InputError, match="`starts` must be an"):
        integrate(syn, [1.0, 2.0, 3.0], 1e-3)
    with pytest.raises(InputError, match=r"`t_max` must be a finite time > t_first = 1"):
        SolverOptions(t_max=0.0)
    with pytest.raises(InputError, match=r"`t_max`.*got 0\.5"):
        SolverOptions(t_max=0.5)
    with pytest.raises(InputError, match="`theta_test` must be a loss threshold"):
        EventOptions(grok_on="loss")
    with pytest.raises(InputError, match="`rtol`"):
        SolverOptions(rtol=-1)
    ds = synthetic_landscape().drop_vars("test_loss")
    with pytest.raises(FileCheckError, match=r"lacks variables \['test_loss'\]"):
        integrate(ds, (35.5, 0.2), 1e-3)
    with pytest.raises(FileCheckError, match="does not exist"):
        integrate(tmp_path / "missing.nc", (35.5, 0.2), 1e-3)
    bad = synthetic_landscape()
    del bad.attrs["w0"]
    with pytest.raises(FileCheckError, match="`w0`"):
        integrate(bad, (35.5, 0.2), 1e-3)
    with pytest.raises(InputError, match="`landscape`"):
        integrate(42, (35.5, 0.2), 1e-3)
    assert isinstance(prepare_landscape(syn), PreparedLandscape)
    assert isinstance(syn.dataset, xr.Dataset)
