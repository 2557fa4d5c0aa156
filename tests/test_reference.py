"""The public slow reference (`reduced_dynamics.testing.reference`) against the numba engine
and the closed form on a landscape with a known answer."""

from __future__ import annotations

import numpy as np

from reduced_dynamics.engine.options import InterpolantOptions
from reduced_dynamics.engine.predict import integrate
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.testing.analytic import W0, exact_landscape
from reduced_dynamics.testing.reference import reference_paths


def test_scipy_reference_agrees_with_the_engine_and_the_closed_form():
    ds, c = exact_landscape("spline", "log")
    prep = prepare_landscape(ds, InterpolantOptions(transform="log", derivatives="spline"))
    u_s, m_s = c["u"][27], 0.3
    gammas = np.array([1e-3, 1e-2])
    pars = np.array([[1e-3, 1e-3, g] for g in gammas])
    y0s = np.array([[u_s, m_s]] * len(gammas))
    expected = (u_s - c["u_g"]) / (1e-3 * gammas)
    _, ref = reference_paths(prep, y0s, pars, t_max=2 * expected.max(), rtol=1e-9,
                             atol=1e-12)
    t_ref = np.array([r["t_grok"] for r in ref])
    assert not any(r["budget"] for r in ref)
    np.testing.assert_allclose(t_ref, expected, rtol=1e-5)
    eng = integrate(prep, (np.exp(u_s) / W0, m_s), gammas, 1e-3, 1e-3)
    np.testing.assert_allclose(eng.t_grok.values.ravel(), t_ref, rtol=1e-5)
