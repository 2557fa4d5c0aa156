"""The Rosenbrock 4(3) step and the solver defaults of v0.3: order, stiffness against
scipy's Radau on the same paths, the paired mode, the grok stop and the step cap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine import rosenbrock as ros
from reduced_dynamics.engine.options import EventOptions, InterpolantOptions, SolverOptions
from reduced_dynamics.engine.predict import (
    analyze_path,
    integrate,
    integrate_paired,
    predict_grokking_times,
)
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.engine.solve import kernel_options, run_kernel
from reduced_dynamics.errors import InputError
from reduced_dynamics.testing.analytic import exact_landscape, poly_landscape
from reduced_dynamics.testing.reference import kernel_reference_paths
from reduced_dynamics.testing.synthetic import synthetic_landscape


@pytest.fixture(scope="module")
def syn():
    return prepare_landscape(synthetic_landscape())


def _ros_solution(prep, par, y0, T, n):
    """n fixed ROS4 steps of Eq. 6 from y0 to T (kernels called one by one)."""
    it = prep.interp
    iopt, _ = kernel_options(it, EventOptions(), SolverOptions(t_max=10 * T), 10 * T)
    par = np.asarray(par, float)
    y = np.array(y0, float)
    f0, ftmp, tmp = np.empty(2), np.empty(2), np.empty(2)
    J, K, y1, err = np.empty((2, 2)), np.empty((4, 2)), np.empty(2), np.empty(2)
    h = T / n
    for _ in range(n):
        dy.rhs(it.ug, it.mg, it.coef, iopt, par, y, f0)
        ros.jacobian(it.ug, it.mg, it.coef, iopt, par, y, f0, tmp, ftmp, J)
        assert ros.ros_step(it.ug, it.mg, it.coef, iopt, par, y, f0, J, h, K, tmp, y1, err)
        y[:] = y1
    return y


def test_fixed_step_order_is_four():
    """ln(error) against ln(h) on a smooth polynomial landscape: slope 4 (the method's
    order; a wrong tableau coefficient drops it to 1-3)."""
    prep = prepare_landscape(poly_landscape(),
                             InterpolantOptions(transform="linear", derivatives="spline"))
    it = prep.interp
    par = (1.0, 1.0, 0.5)
    T, y0 = 2.0, [2.0, 0.6]

    def f(t, y):
        return np.array(dy.velocity(it.ug, it.mg, it.coef, it.log_scale, *par, y[0], y[1]))

    ref = solve_ivp(f, (0, T), y0, method="DOP853", rtol=1e-13, atol=1e-15).y[:, -1]
    ns = (8, 16, 32, 64)
    errs = [np.linalg.norm(_ros_solution(prep, par, y0, T, n) - ref) for n in ns]
    slope = np.polyfit(np.log(T / np.array(ns)), np.log(errs), 1)[0]
    assert 3.6 < slope < 4.6, (slope, errs)


def test_jacobian_matches_central_differences(syn):
    it = syn.interp
    iopt, _ = kernel_options(it, EventOptions(), SolverOptions(t_max=1e9), 1e9)
    par = np.array([1e-3, 1e-3, 1e-4])
    y = np.array([np.log(20.0 * syn.w0), 0.33])
    f0, tmp, ftmp, J = np.empty(2), np.empty(2), np.empty(2), np.empty((2, 2))
    dy.rhs(it.ug, it.mg, it.coef, iopt, par, y, f0)
    ros.jacobian(it.ug, it.mg, it.coef, iopt, par, y, f0, tmp, ftmp, J)
    ref = np.empty((2, 2))
    for j in range(2):
        d = 1e-6 * max(1.0, abs(y[j]))
        hi, lo = y.copy(), y.copy()
        hi[j] += d
        lo[j] -= d
        ref[:, j] = (np.array(dy.velocity(it.ug, it.mg, it.coef, it.log_scale, *par, *hi))
                     - np.array(dy.velocity(it.ug, it.mg, it.coef, it.log_scale, *par, *lo))
                     ) / (2 * d)
    assert np.allclose(J, ref, rtol=1e-4, atol=1e-12 * np.abs(ref).max())


def test_stiff_paths_agree_with_radau_and_take_fewer_steps():
    """Paths on the shipped toy landscape through its steep m valleys (the stiff case):
    the Rosenbrock kernel and scipy's Radau on the same interpolant agree on whether and
    when each path groks and where it ends; DOPRI5 needs several times the steps.

    (Not every path is well-conditioned: from (70.8, 0.2) at γ = 0.975 Radau itself groks
    at t = 1581 with rtol 1e-8 and at 1611 with 1e-10, on a separatrix; such paths are
    left out of a comparison of solvers.)"""
    prep = prepare_landscape("landscapes/toy_addition_paper.nc")
    starts = np.array([(20.0, 0.1), (4.19, 0.277), (50.0, 0.1), (15.0, 0.2)])
    gammas = np.array([0.3, 0.389, 0.3, 1.0])
    pars = np.column_stack([np.full(4, 1e-3), np.full(4, 1e-3), gammas])
    t_max = 2e5
    so = SolverOptions(t_max=t_max, n_times=2, stop_at_grok=False)
    got = run_kernel(prep, starts, pars, EventOptions(), so, np.array([0.0, t_max]), t_max,
                     False)
    y0 = np.column_stack([np.log(starts[:, 0] * prep.w0), starts[:, 1]])
    _, rad = kernel_reference_paths(prep, y0, pars, t_max, 1e-8, 1e-10, "Radau")
    for p, ref in enumerate(rad):
        assert not ref["budget"]
        tg = got["ev_t"][p, dy.EV_GROK]
        assert np.isnan(tg) == np.isnan(ref["t_grok"]), (p, tg, ref["t_grok"])
        if np.isfinite(tg):
            assert tg == pytest.approx(ref["t_grok"], rel=1e-4)
        assert got["ev_t"][p, dy.EV_END] == pytest.approx(ref["t_end"], rel=1e-3)
        assert np.allclose(got["ev_y"][p, dy.EV_END], ref["y_end"], atol=1e-3)
    dp = run_kernel(prep, starts, pars, EventOptions(),
                    SolverOptions(t_max=t_max, n_times=2, method="dopri5", stop_at_grok=False,
                                  max_steps=10**6),
                    np.array([0.0, t_max]), t_max, False)
    assert dp["counts"][:, 1].sum() > 3 * got["counts"][:, 1].sum()


def test_paired_equals_one_call_per_path(syn):
    starts = [(35.5, 0.2), (20.0, 0.1), (30.0, 0.3)]
    gammas, etas = [1e-5, 3e-5, 2e-5], [1e-3, 2e-3, 1e-3]
    so = SolverOptions(t_max=1e7)  # one output grid for both (the default t_max is per batch)
    got = integrate_paired(syn, starts, gammas, eta_d=etas, eta_r=1e-3, solver=so)
    assert got.sizes["path"] == 3
    for p in range(3):
        one = integrate(syn, [starts[p]], [gammas[p]], eta_d=etas[p],
                        solver=SolverOptions(t_max=1e7, stop_at_grok=False)).isel(
            start=0, gamma=0, eta_d=0, eta_r=0)
        row = got.isel(path=p)
        for k in ("t_overfit", "t_grok", "t_end"):
            assert float(row[k]) == float(one[k]) or (np.isnan(row[k]) and np.isnan(one[k]))
        assert np.array_equal(row["w"].values, one["w"].values)
        assert float(row["gamma"]) == gammas[p] and float(row["eta_d"]) == etas[p]
    with pytest.raises(InputError, match="gamma"):
        integrate_paired(syn, starts, [1e-5, 2e-5])


def test_grok_stop_defaults(syn):
    """integrate() ends a path at t_grok; predict/path and paired run on to E or the edge."""
    kw = dict(start=(35.5, 0.2))
    r = integrate(syn, kw["start"], 3e-5)
    assert np.isfinite(r.t_grok.item()) and r.t_end.item() == r.t_grok.item()
    on = integrate(syn, kw["start"], 3e-5, solver=SolverOptions(stop_at_grok=False))
    assert on.t_end.item() > on.t_grok.item()
    p = predict_grokking_times(syn, [3e-5], **kw)
    assert p.t_E.item() > p.t_grok.item() or p.status.item() != "ok"
    a = analyze_path(syn, 3e-5, **kw)
    assert a.attrs["solver_stop_at_grok"] == 0
    assert integrate_paired(syn, [kw["start"]], 3e-5).attrs["solver_stop_at_grok"] == 0


def test_step_cap_is_off_by_default_and_checked(syn):
    assert SolverOptions().step_cap is None
    capped = integrate(syn, (35.5, 0.2), 3e-5, solver=SolverOptions(step_cap=0.01))
    free = integrate(syn, (35.5, 0.2), 3e-5)
    assert capped.n_steps.item() > free.n_steps.item()
    assert capped.t_grok.item() == pytest.approx(free.t_grok.item(), rel=1e-4)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(InputError, match="step_cap"):
            SolverOptions(step_cap=bad)
    with pytest.raises(InputError, match="method"):
        SolverOptions(method="rk4")


def test_cost_of_easy_paths():
    """A pure weight-decay drift across ~8 cells of an analytic landscape: within the
    budget the DOPRI5 test holds its stepper to (`test_dopri.test_cost_of_easy_paths`)."""
    ds, c = exact_landscape()
    r = integrate(ds, (np.exp(c["u"][28]) / 2.0, 0.3), 1e-3, 1e-3, 1e-3)
    assert r.status.item() == "ok" and r.nfev.item() <= 110


def test_compile_command_reports_a_warm_cache():
    out = subprocess.run([sys.executable, "-m", "reduced_dynamics", "compile"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "kernels" in out.stdout and "cache:" in out.stdout


def test_threads_give_the_serial_result(syn):
    """The batch on threads (chunks of rows written side by side) equals one thread, bit
    for bit, and a batch below `solve.MIN_PARALLEL` runs on the calling thread."""
    from reduced_dynamics.engine.solve import MIN_PARALLEL, n_workers

    starts = [(a, m) for a in np.geomspace(5.0, 35.0, 12) for m in (0.05, 0.2, 0.35)]
    kw = dict(n_times=7, stop_at_grok=False)
    par = integrate(syn, starts, [1e-5, 3e-5], solver=SolverOptions(parallel=True, **kw))
    one = integrate(syn, starts, [1e-5, 3e-5], solver=SolverOptions(parallel=False, **kw))
    for k in ("t_overfit", "t_grok", "t_end", "w", "m", "n_steps"):
        np.testing.assert_array_equal(par[k].values, one[k].values)
    assert n_workers(True, MIN_PARALLEL - 1) == 1 and n_workers(False, 10**6) == 1
