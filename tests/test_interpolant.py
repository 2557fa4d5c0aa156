"""The landscape interpolant: exactness, no overshoot, derivatives, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator

from reduced_dynamics.engine.interpolant import (
    bicubic_grad,
    bicubic_value,
    bilinear,
    build_interpolant,
    derivative_agreement,
    find_cell,
    hermite_cells,
    loss_grad,
    node_derivatives,
)
from reduced_dynamics.errors import FileCheckError, InputError
from reduced_dynamics.io.landscape_file import landscape_dataset
from reduced_dynamics.testing.analytic import exact_landscape
from reduced_dynamics.testing.synthetic import synthetic_landscape

RNG = np.random.default_rng(0)


def _smooth_grid():
    ug = np.sort(RNG.uniform(0.0, 5.0, 12))
    mg = np.linspace(0.0, 1.0, 9) ** 2
    g = np.sin(ug[:, None]) * np.cos(3 * mg[None, :]) + ug[:, None] * mg[None, :]
    return ug, mg, g


def _eval_cells(ug, mg, coef, u, m):
    i, s = find_cell(ug, u)
    j, t = find_cell(mg, m)
    f, fs, ft = bicubic_grad(coef[i, j], s, t)
    return f, fs / (ug[i + 1] - ug[i]), ft / (mg[j + 1] - mg[j])


def test_spline_cells_equal_rectbivariatespline():
    ug, mg, g = _smooth_grid()
    coef = hermite_cells(ug, mg, *node_derivatives(ug, mg, g, method="spline"))
    ref = RectBivariateSpline(ug, mg, g, kx=3, ky=3, s=0)
    for u, m in RNG.uniform([ug[0], 0], [ug[-1], 1], size=(300, 2)):
        f, fu, fm = _eval_cells(ug, mg, coef, u, m)
        assert f == pytest.approx(ref(u, m)[0, 0], abs=1e-11)
        assert fu == pytest.approx(ref(u, m, dx=1)[0, 0], abs=1e-10)
        assert fm == pytest.approx(ref(u, m, dy=1)[0, 0], abs=1e-10)


@pytest.mark.parametrize("method", ["spline", "pchip"])
def test_nodes_reproduced_and_continuous(method):
    ug, mg, g = _smooth_grid()
    coef = hermite_cells(ug, mg, *node_derivatives(ug, mg, g, method=method))
    for i, u in enumerate(ug):
        for j, m in enumerate(mg):
            assert _eval_cells(ug, mg, coef, u, m)[0] == pytest.approx(g[i, j], abs=1e-12)
    # value and gradient continuous across an interior cell edge (C¹ for both methods)
    e = 1e-9
    for u in ug[1:-1]:
        lo = np.array(_eval_cells(ug, mg, coef, u - e, 0.3))
        hi = np.array(_eval_cells(ug, mg, coef, u + e, 0.3))
        assert np.allclose(lo, hi, atol=1e-6)


def test_bicubic_value_matches_grad_and_finite_differences():
    c = RNG.standard_normal(16)
    s, t, h = 0.37, 0.61, 1e-6
    f, fs, ft = bicubic_grad(c, s, t)
    assert f == pytest.approx(bicubic_value(c, s, t), abs=1e-14)
    assert fs == pytest.approx((bicubic_value(c, s + h, t) - bicubic_value(c, s - h, t)) / 2 / h,
                               abs=1e-7)
    assert ft == pytest.approx((bicubic_value(c, s, t + h) - bicubic_value(c, s, t - h)) / 2 / h,
                               abs=1e-7)


def test_find_cell_binary_search_on_nonuniform_grid():
    grid = np.array([0.0, 0.01, 0.04, 0.3, 1.0])
    assert find_cell(grid, -1.0) == (0, 0.0)
    assert find_cell(grid, 2.0) == (3, 1.0)
    i, s = find_cell(grid, 0.2)
    assert i == 2 and s == pytest.approx((0.2 - 0.04) / 0.26)
    for x in RNG.uniform(0, 1, 50):
        i, s = find_cell(grid, x)
        assert grid[i] <= x <= grid[i + 1] and 0 <= s <= 1
        assert i == np.searchsorted(grid, x, side="right") - 1


def test_accuracy_is_bilinear_without_overshoot():
    ds = synthetic_landscape()
    it = build_interpolant(ds)
    acc = ds["test_acc"].transpose("w", "m").values
    ref = RegularGridInterpolator((it.ug, it.mg), acc)
    pts = RNG.uniform([it.ug[0], 0.0], [it.ug[-1], 1.0], size=(500, 2))
    ev = it.evaluate_u(pts[:, 0], pts[:, 1])
    assert np.allclose(ev["test_acc"], ref(pts), atol=1e-13)
    assert ev["test_acc"].min() >= acc.min() and ev["test_acc"].max() <= acc.max()
    v = np.arange(4.0).reshape(2, 2)
    assert bilinear(v, 0, 0, 0.5, 0.5) == pytest.approx(1.5)


@pytest.mark.parametrize("method", ["spline", "pchip"])
def test_log_transform_gradient_is_chain_rule(method):
    ds = synthetic_landscape()
    it = build_interpolant(ds, derivatives=method)
    u, m, h = np.log(20 * 14.0), 0.13, 1e-6
    lv, lu, lm = loss_grad(it.ug, it.mg, it.coef, 0, True, u, m)
    assert lv > 0
    fd_u = (loss_grad(it.ug, it.mg, it.coef, 0, True, u + h, m)[0]
            - loss_grad(it.ug, it.mg, it.coef, 0, True, u - h, m)[0]) / (2 * h)
    fd_m = (loss_grad(it.ug, it.mg, it.coef, 0, True, u, m + h)[0]
            - loss_grad(it.ug, it.mg, it.coef, 0, True, u, m - h)[0]) / (2 * h)
    assert lu == pytest.approx(fd_u, rel=1e-5, abs=1e-12)
    assert lm == pytest.approx(fd_m, rel=1e-5, abs=1e-12)


def test_pchip_keeps_flat_region_flat_and_positive():
    ds = synthetic_landscape()
    it = build_interpolant(ds, derivatives="pchip")
    uu, mm = np.meshgrid(np.linspace(it.ug[0], it.ug[-1], 300), np.linspace(0, 1, 200))
    ev = it.evaluate_u(uu, mm)
    lt = ds["train_loss"].values
    assert ev["train_loss"].min() >= lt.min() * (1 - 1e-12)
    assert ev["train_loss"].max() <= lt.max() * (1 + 1e-12)


@pytest.mark.parametrize("derivatives", ["pchip", "spline"])
@pytest.mark.parametrize("transform", ["log", "linear"])
def test_exact_landscape_region_two_is_exactly_flat(derivatives, transform):
    ds, c = exact_landscape(derivatives, transform)
    it = build_interpolant(ds, derivatives=derivatives, transform=transform)
    u = np.linspace(c["u_b"], it.ug[-1], 101)
    ev = it.evaluate_u(u, np.full(u.size, 0.3))
    assert np.allclose(ev["train_loss"], c["l0"], rtol=1e-12)
    assert np.abs(ev["dtrain_du"]).max() < 1e-12 and np.abs(ev["dtrain_dm"]).max() < 1e-12


def test_derivative_agreement_exact_and_synthetic():
    ds, _ = exact_landscape("spline", "log")
    res = derivative_agreement(build_interpolant(ds, derivatives="spline"), ds)
    assert res["median_rel_err_dw"] < 1e-8 and res["median_rel_err_dm"] < 1e-8
    assert res["corr_dw"] > 0.999999
    syn = synthetic_landscape()
    res = derivative_agreement(build_interpolant(syn, derivatives="spline"), syn)
    assert res["n_points"] == syn.sizes["w"] * syn.sizes["m"]
    assert res["median_rel_err_dw"] < 0.05 and res["median_rel_err_dm"] < 0.05
    assert res["corr_dw"] > 0.99 and res["corr_dm"] > 0.99
    res = derivative_agreement(build_interpolant(syn, derivatives="pchip"), syn)
    assert res["median_rel_err_dw"] < 0.3 and res["sign_agree_dm"] > 0.95


def test_smoothing_and_monotone_options():
    noisy = synthetic_landscape(noise=0.3, seed=1)
    clean = synthetic_landscape()
    u = np.linspace(np.log(14 * 12.0), np.log(14 * 100.0), 200)
    m = np.full(u.size, 0.02)

    def rough(it):
        return float(np.abs(np.diff(np.log(it.evaluate_u(u, m)["train_loss"]), 2)).sum())

    raw = build_interpolant(noisy, smoothing=0.0)
    smooth = build_interpolant(noisy, smoothing=0.1)
    assert rough(smooth) < 0.5 * rough(raw)
    ref = np.log(build_interpolant(clean).evaluate_u(u, m)["train_loss"])
    err = np.abs(np.log(smooth.evaluate_u(u, m)["train_loss"]) - ref).mean()
    assert err < np.abs(np.log(raw.evaluate_u(u, m)["train_loss"]) - ref).mean()
    mono = build_interpolant(noisy, monotone=True)
    nodes = mono.evaluate_u(mono.ug, np.full(mono.ug.size, 0.0))["train_loss"]
    assert np.all(np.diff(nodes) <= 1e-15)
    assert mono.info["monotone"] and smooth.info["smoothing"] == 0.1


def test_nonfinite_values_are_filled_and_counted():
    ds = synthetic_landscape()
    tl = ds["train_loss"].values.copy()
    tl[30, 5] = np.nan
    ds["train_loss"] = (("w", "m"), tl)
    ds["converged"] = ds["converged"].where(~np.isnan(ds["train_loss"]), False)
    it = build_interpolant(ds)
    assert it.info["filled"] == {"train_loss": 1}
    assert np.isfinite(it.coef).all()


def test_one_dimensional_landscape_reuses_the_kernels():
    alpha = np.geomspace(0.1, 10, 21)
    w = alpha * 3.0
    train = 1.0 / (1.0 + alpha**2)
    shape = train.shape
    variables = {"train_loss": train, "test_loss": train * 2, "train_acc": np.zeros(shape),
                 "test_acc": np.zeros(shape), "dtrain_dw": -2 * alpha / (1 + alpha**2) ** 2 / 3,
                 "converged": np.ones(shape, bool), "tangent_grad_ratio": np.zeros(shape)}
    ds = landscape_dataset(w, None, variables, task="ts", preset="1d", config={}, w0=3.0)
    it = build_interpolant(ds, derivatives="spline")
    assert not it.has_m and it.mg.tolist() == [0.0, 1.0]
    ev = it.evaluate(w, np.full(w.size, 0.7))
    assert np.allclose(ev["train_loss"], train, rtol=1e-12)
    assert np.abs(ev["dtrain_dm"]).max() < 1e-12
    res = derivative_agreement(it, ds)
    assert res["median_rel_err_dw"] < 0.02 and "median_rel_err_dm" not in res


def test_errors_name_what_is_missing_or_wrong():
    ds = synthetic_landscape().drop_vars("test_acc")
    with pytest.raises(FileCheckError, match=r"test_acc.*it has dims"):
        build_interpolant(ds)
    with pytest.raises(InputError, match="`transform` must be one of"):
        build_interpolant(synthetic_landscape(), transform="sqrt")
    with pytest.raises(InputError, match="`smoothing`"):
        build_interpolant(synthetic_landscape(), smoothing=-1)
    with pytest.raises(InputError, match="`derivatives`"):
        build_interpolant(synthetic_landscape(), derivatives="akima")
    extra = synthetic_landscape()
    extra["train_loss"] = extra["train_loss"].expand_dims(n_train=[45, 55])
    with pytest.raises(InputError, match=r"extra dims \['n_train'\]"):
        build_interpolant(extra)
    bad = synthetic_landscape()
    bad["train_loss"] = xr.full_like(bad["train_loss"], np.nan)
    with pytest.raises(InputError, match="no finite value"):
        build_interpolant(bad)


def test_kernels_match_their_python_bodies():
    ug, mg, g = _smooth_grid()
    coef = hermite_cells(ug, mg, *node_derivatives(ug, mg, g))
    c = coef[3, 4]
    assert bicubic_grad.py_func(c, 0.2, 0.7) == pytest.approx(bicubic_grad(c, 0.2, 0.7))
    assert bicubic_value.py_func(c, 0.2, 0.7) == pytest.approx(bicubic_value(c, 0.2, 0.7))
    assert find_cell.py_func(ug, 2.5) == find_cell(ug, 2.5)
    v = RNG.uniform(size=(3, 3))
    assert bilinear.py_func(v, 1, 1, 0.3, 0.9) == pytest.approx(bilinear(v, 1, 1, 0.3, 0.9))
