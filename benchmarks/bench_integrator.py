"""Paths per second: the batched numba Dormand–Prince integrator against scipy.

    python benchmarks/bench_integrator.py [LANDSCAPE] [--paths N] [--scipy-paths K]

Side by side, in one run, on the same landscape, the same paths (starts × γ) and the same
tolerances (rtol, atol, with scipy's error norm and step-size controller on both sides):

1. numba, ``integrate()`` on N paths with events (overfit, grok, stationary point, leaving
   the grid), with the default PCHIP interpolant;
2. ``scipy.integrate.solve_ivp(method="RK45")`` with a ``RectBivariateSpline`` right-hand side
   (the same interpolant as numba's spline one: it *is* the tensor-product spline) and the
   same events, on K of those paths, against numba on exactly those K paths (same step
   budget on both sides; scipy's RHS calls include those of its event root finding);
3. compile time of the first call in a fresh process (empty numba cache) and the load time
   in a second process that finds the cache.

The landscape defaults to ``landscapes/toy_addition_paper.nc`` when it exists, otherwise a
synthetic L/U landscape (`reduced_dynamics.testing.synthetic`). Every number printed is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reduced_dynamics.engine.options import (  # noqa: E402
    EventOptions,
    InterpolantOptions,
    SolverOptions,
)
from reduced_dynamics.engine.predict import integrate  # noqa: E402
from reduced_dynamics.engine.prepare import PreparedLandscape, prepare_landscape  # noqa: E402
from reduced_dynamics.engine.solve import run_kernel  # noqa: E402
from reduced_dynamics.study import study_defaults  # noqa: E402
from reduced_dynamics.testing.reference import reference_paths  # noqa: E402

SHIPPED = ROOT / "landscapes" / "toy_addition_paper.nc"

_COMPILE_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
from reduced_dynamics.engine.predict import integrate
from reduced_dynamics.engine.prepare import prepare_landscape
from reduced_dynamics.testing.synthetic import synthetic_landscape
t1 = time.perf_counter()
prep = prepare_landscape(synthetic_landscape())
t2 = time.perf_counter()
integrate(prep, [(35.5, 0.2), (4.0, 0.1)], [1e-5, 3e-5])
t3 = time.perf_counter()
integrate(prep, [(35.5, 0.2), (4.0, 0.1)], [1e-5, 3e-5])
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_call": t3 - t2, "second_call": t4 - t3}))
"""


def compile_times() -> tuple[dict, dict]:
    """First call in a fresh process with an empty cache dir, then a second process."""
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env,
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            runs.append(json.loads(out.stdout))
    return runs[0], runs[1]


def path_set(prep: PreparedLandscape, n: int, alpha_max: float | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """≈ n paths: starts (alpha log-spaced over the upper 70 % of the grid, or up to
    ``alpha_max``, m in [0, 0.4]) × γ (log-spaced over the default range)."""
    a_lo, a_hi = prep.alpha_range
    la, lb = np.log(a_lo), np.log(a_hi)
    n_g = max(2, round(np.sqrt(n / 4)))
    n_s = max(1, round(n / n_g))
    n_a = max(1, round(np.sqrt(n_s)))
    n_m = max(1, n_s // n_a)
    hi = la + 0.95 * (lb - la) if alpha_max is None else np.log(min(alpha_max, a_hi))
    alphas = np.exp(np.linspace(la + 0.3 * (hi - la), hi, n_a))
    m_lo, m_hi = prep.interp.m_range
    ms = np.clip(np.linspace(0.0, 0.4, n_m), m_lo, m_hi)
    starts = np.array([(a, m) for a in alphas for m in ms])
    g = study_defaults(prep).gammas
    return starts, np.geomspace(g[0], g[-1], n_g)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("landscape", nargs="?", default=None)
    ap.add_argument("--paths", type=int, default=20_000, help="numba batch size")
    ap.add_argument("--scipy-paths", type=int, default=8, help="paths given to scipy")
    ap.add_argument("--max-steps", type=int, default=20_000,
                    help="step budget per path on both sides (scipy: 6x as many RHS calls)")
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--no-compile", action="store_true", help="skip the compile timing")
    ap.add_argument("--alpha-max", type=float, default=None,
                    help="largest start alpha (e.g. where the probe converged)")
    ap.add_argument("--stop-at-grok", action="store_true",
                    help="end each numba path at t_grok (as a grokking-time sweep needs)")
    args = ap.parse_args(argv)

    import numba

    if args.landscape:
        source = args.landscape
    elif SHIPPED.exists():
        source = str(SHIPPED)
    else:
        source = None
    if source is None:
        from reduced_dynamics.testing.synthetic import synthetic_landscape

        ds, name = synthetic_landscape(), "synthetic L/U landscape (no shipped file yet)"
    else:
        ds, name = source, source
    print(f"landscape: {name}")
    print(f"machine: {os.cpu_count()} CPUs, numba {numba.__version__} with "
          f"{numba.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f} "
          f"(other jobs share these cores)")

    if not args.no_compile:
        first, second = compile_times()
        print("\ncompile / cache (subprocesses, fresh NUMBA_CACHE_DIR):")
        print(f"  process 1: import {first['import']:.2f} s, first call {first['first_call']:.2f}"
              f" s (compiles), second call {first['second_call'] * 1e3:.1f} ms")
        print(f"  process 2: import {second['import']:.2f} s, first call "
              f"{second['first_call']:.2f} s (loads the cache)")

    preps = {d: prepare_landscape(ds, InterpolantOptions(derivatives=d))
             for d in ("pchip", "spline")}
    starts, gammas = path_set(preps["pchip"], args.paths, args.alpha_max)
    so = SolverOptions(rtol=args.rtol, atol=args.atol, n_times=2, max_steps=args.max_steps,
                       stop_at_grok=args.stop_at_grok)
    n = starts.shape[0] * gammas.size
    print(f"\nnumba, integrate() with events (default PCHIP interpolant), {n} paths "
          f"({starts.shape[0]} starts x {gammas.size} gammas), rtol={args.rtol:g}, "
          f"atol={args.atol:g}:")
    prep = preps["pchip"]
    integrate(prep, starts[:2], gammas[:2], solver=so)  # warm (compiled or cached)
    t0 = time.perf_counter()
    r = integrate(prep, starts, gammas, solver=so)
    dt = time.perf_counter() - t0
    st, cnt = np.unique(r.status.values, return_counts=True)
    print(f"  {n / dt:10.0f} paths/s  ({dt:.2f} s; RHS evaluations per path: median "
          f"{np.median(r.nfev.values):.0f}; status {dict(zip(st.tolist(), cnt.tolist()))})")
    t_max = float(r.attrs["t_max"])

    # the same K paths through scipy and through numba, spline interpolant on both sides
    k = args.scipy_paths
    idx = np.indices((starts.shape[0], gammas.size)).reshape(2, -1)
    pick = np.linspace(0, idx.shape[1] - 1, k).round().astype(int)
    alpha_m = starts[idx[0, pick]]
    pars = np.column_stack([np.full(k, 1e-3), np.full(k, 1e-3), gammas[idx[1, pick]]])
    prep = preps["spline"]
    y0s = np.column_stack([np.log(alpha_m[:, 0] * prep.w0), alpha_m[:, 1]])
    dt_scipy, res = reference_paths(prep, y0s, pars, t_max, args.rtol, args.atol,
                                    max_nfev=6 * args.max_steps)
    # one thread, like scipy; the K paths repeated to get a measurable time
    reps = max(1, int(200 // k))
    y0_rep = np.tile(alpha_m, (reps, 1))
    par_rep = np.tile(pars, (reps, 1))
    t_out = np.array([0.0, t_max])
    serial = SolverOptions(rtol=args.rtol, atol=args.atol, n_times=2,
                           max_steps=args.max_steps, parallel=False)
    run_kernel(prep, y0_rep[:1], par_rep[:1], EventOptions(), serial, t_out, t_max, False)
    t0 = time.perf_counter()
    raw = run_kernel(prep, y0_rep, par_rep, EventOptions(), serial, t_out, t_max, False)
    dt_numba = (time.perf_counter() - t0) / reps
    nf_s = np.array([x["nfev"] for x in res])
    nf_n = raw["counts"][:k, 0]
    tg_s = np.array([x["t_grok"] for x in res])
    tg_n = raw["ev_t"][:k, 1]
    both = np.isfinite(tg_s) & np.isfinite(tg_n)
    print(f"\nsame {k} paths, spline interpolant on both sides, step budget "
          f"{args.max_steps}, one thread each (numba repeated {reps}x for timing):")
    print(f"  scipy solve_ivp RK45 + RectBivariateSpline: {k / dt_scipy:10.1f} paths/s "
          f"({dt_scipy / k * 1e3:.1f} ms/path, RHS evaluations per path: median "
          f"{np.median(nf_s):.0f}, {sum(x['budget'] for x in res)} out of budget)")
    print(f"  numba DOPRI5 kernel:                        {k / dt_numba:10.1f} paths/s "
          f"({dt_numba / k * 1e6:.1f} us/path, RHS evaluations per path: median "
          f"{np.median(nf_n):.0f}, {int(np.sum(raw['status'][:k] == 2))} out of budget)")
    run_kernel(prep, y0_rep[:2], par_rep[:2], EventOptions(), so, t_out, t_max, False)
    t0 = time.perf_counter()
    run_kernel(prep, y0_rep, par_rep, EventOptions(), so, t_out, t_max, False)
    dt_batch = (time.perf_counter() - t0) / reps
    print(f"  numba batched (prange, {numba.get_num_threads()} threads):          "
          f"{k / dt_batch:10.1f} paths/s")
    print(f"  ratio per path, one thread each: {dt_scipy / dt_numba:.0f}x "
          f"(per RHS evaluation {(dt_scipy / nf_s.sum()) / (dt_numba / nf_n.sum()):.0f}x); "
          f"batched numba vs scipy: {dt_scipy / dt_batch:.0f}x")
    if both.any():
        rel = np.abs(tg_s[both] / tg_n[both] - 1)
        print(f"  t_grok agreement on {int(both.sum())} grokking paths: max relative "
              f"difference {rel.max():.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
