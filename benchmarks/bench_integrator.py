"""Paths per second: the batched numba integrator against scipy.

    python benchmarks/bench_integrator.py [LANDSCAPE] [--paths N] [--scipy-paths K]

Side by side, in one run, on the same landscape, the same paths (starts × γ) and the same
tolerances (rtol, atol, with scipy's error norm and step-size controller on both sides):

1. numba, ``integrate()`` on N paths with the default events (stop at t_grok, at E, on
   leaving the grid) and the default step (Rosenbrock 4(3)) and PCHIP interpolant; then
   the same paths with the explicit DOPRI5 step;
2. the Rosenbrock kernel against ``solve_ivp(method="Radau")`` on K of those paths with
   the kernel's own right-hand side and event functions (`testing.reference.
   kernel_reference_paths`): time per path and whether the events agree;
3. the DOPRI5 kernel against ``solve_ivp(method="RK45")`` with a ``RectBivariateSpline``
   right-hand side (the same interpolant as numba's spline one) on K paths (same step
   budget on both sides; scipy's RHS calls include those of its event root finding);
4. a predicted phase diagram of 100 × 100 = 10 000 cells (`phases.predicted_phases`);
5. compile time of the first call in a fresh process (empty numba cache), the load time
   in a second process that finds the cache, and ``reduced-dynamics predict`` in a fresh
   process after ``reduced-dynamics compile``.

The landscape defaults to ``landscapes/toy_addition_paper.nc`` when it exists, otherwise a
synthetic L/U landscape (`reduced_dynamics.testing.synthetic`). Every number printed is measured.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from reduced_dynamics.testing.reference import (  # noqa: E402
    kernel_reference_paths,
    reference_paths,
)

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


def compile_times() -> tuple[dict, dict, dict]:
    """First call in a fresh process with an empty cache dir, then a second process; then,
    with another empty cache, `reduced-dynamics compile` and a first `predict`."""
    cmd = [sys.executable, "-m", "reduced_dynamics"]
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _COMPILE_SNIPPET], env=env,
                                 capture_output=True, text=True, check=True, cwd=ROOT)
            runs.append(json.loads(out.stdout))
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        cli = {}
        for name, extra in (("compile", ["compile"]), ("predict", ["predict"])):
            t0 = time.perf_counter()
            subprocess.run(cmd + extra, env=env, capture_output=True, check=True, cwd=ROOT)
            cli[name] = time.perf_counter() - t0
    return runs[0], runs[1], cli


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
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--no-compile", action="store_true", help="skip the compile timing")
    ap.add_argument("--alpha-max", type=float, default=None,
                    help="largest start alpha (e.g. where the probe converged)")
    ap.add_argument("--integrate-on", action="store_true",
                    help="run each numba path on after t_grok (default: stop there)")
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
        first, second, cli = compile_times()
        print("\ncompile / cache (subprocesses, fresh NUMBA_CACHE_DIR):")
        print(f"  process 1: import {first['import']:.2f} s, first call {first['first_call']:.2f}"
              f" s (compiles), second call {first['second_call'] * 1e3:.1f} ms")
        print(f"  process 2: import {second['import']:.2f} s, first call "
              f"{second['first_call']:.2f} s (loads the cache)")
        print(f"  `reduced-dynamics compile` {cli['compile']:.2f} s, then the first "
              f"`reduced-dynamics predict` (default landscape, whole process) "
              f"{cli['predict']:.2f} s")

    preps = {d: prepare_landscape(ds, InterpolantOptions(derivatives=d))
             for d in ("pchip", "spline")}
    starts, gammas = path_set(preps["pchip"], args.paths, args.alpha_max)
    so = SolverOptions(rtol=args.rtol, atol=args.atol, n_times=2, max_steps=args.max_steps,
                       stop_at_grok=not args.integrate_on)
    n = starts.shape[0] * gammas.size
    print(f"\nnumba, integrate() with the default events (stop at t_grok: "
          f"{so.stop_at_grok}), PCHIP interpolant, {n} paths ({starts.shape[0]} starts x "
          f"{gammas.size} gammas), rtol={args.rtol:g}, atol={args.atol:g}:")
    prep = preps["pchip"]
    rates = {}
    for method in ("rosenbrock", "dopri5"):
        som = dataclasses.replace(so, method=method)
        integrate(prep, starts[:2], gammas[:2], solver=som)  # warm (compiled or cached)
        t0 = time.perf_counter()
        r = integrate(prep, starts, gammas, solver=som)
        dt = time.perf_counter() - t0
        rates[method] = n / dt
        st, cnt = np.unique(r.status.values, return_counts=True)
        print(f"  {method:10s} {n / dt:10.0f} paths/s  ({dt:.2f} s; steps per path: median "
              f"{np.median(r.n_steps.values):.0f}, rejected {np.median(r.n_rejected.values):.0f}"
              f"; status {dict(zip(st.tolist(), cnt.tolist()))})")
    print(f"  ratio rosenbrock / dopri5: {rates['rosenbrock'] / rates['dopri5']:.2f}x")
    t_max = float(r.attrs["t_max"])

    # the same K paths through scipy's Radau and the Rosenbrock kernel (PCHIP, both sides)
    k = args.scipy_paths
    idx = np.indices((starts.shape[0], gammas.size)).reshape(2, -1)
    pick = np.linspace(0, idx.shape[1] - 1, k).round().astype(int)
    alpha_m = starts[idx[0, pick]]
    pars = np.column_stack([np.full(k, 1e-3), np.full(k, 1e-3), gammas[idx[1, pick]]])
    y0s = np.column_stack([np.log(alpha_m[:, 0] * prep.w0), alpha_m[:, 1]])
    dt_radau, rad = kernel_reference_paths(prep, y0s, pars, t_max, args.rtol, args.atol,
                                           "Radau", stop_at_grok=so.stop_at_grok)
    reps = max(1, int(200 // k))
    t_out = np.array([0.0, t_max])
    one = dataclasses.replace(so, parallel=False)
    run_kernel(prep, alpha_m[:1], pars[:1], EventOptions(), one, t_out, t_max, False)
    t0 = time.perf_counter()
    for _ in range(reps):
        raw = run_kernel(prep, alpha_m, pars, EventOptions(), one, t_out, t_max, False)
    dt_ros = (time.perf_counter() - t0) / reps
    tg_r = np.array([x["t_grok"] for x in rad])
    tg_n = raw["ev_t"][:, 1]
    same = np.isnan(tg_r) == np.isnan(tg_n)
    both = np.isfinite(tg_r) & np.isfinite(tg_n)
    print(f"\nsame {k} paths, PCHIP interpolant on both sides, one thread each (numba "
          f"repeated {reps}x for timing):")
    print(f"  scipy solve_ivp Radau: {k / dt_radau:10.1f} paths/s ({dt_radau / k * 1e3:.1f} "
          f"ms/path, RHS evaluations per path: median "
          f"{np.median([x['nfev'] for x in rad]):.0f})")
    print(f"  numba Rosenbrock:      {k / dt_ros:10.1f} paths/s ({dt_ros / k * 1e6:.1f} us/path"
          f", RHS evaluations per path: median {np.median(raw['counts'][:, 0]):.0f})")
    print(f"  ratio: {dt_radau / dt_ros:.0f}x; grokked or not alike on {int(same.sum())} of "
          f"{k} paths" + (f", t_grok max relative difference "
                          f"{np.max(np.abs(tg_r[both] / tg_n[both] - 1)):.1e} on "
                          f"{int(both.sum())} grokking paths" if both.any() else ""))

    # the same K paths through scipy RK45 and the DOPRI5 kernel, spline interpolant both sides
    prep = preps["spline"]
    y0s = np.column_stack([np.log(alpha_m[:, 0] * prep.w0), alpha_m[:, 1]])
    dt_scipy, res = reference_paths(prep, y0s, pars, t_max, args.rtol, args.atol,
                                    max_nfev=6 * args.max_steps)
    # one thread, like scipy; the K paths repeated to get a measurable time
    reps = max(1, int(200 // k))
    y0_rep = np.tile(alpha_m, (reps, 1))
    par_rep = np.tile(pars, (reps, 1))
    t_out = np.array([0.0, t_max])
    serial = SolverOptions(rtol=args.rtol, atol=args.atol, n_times=2, method="dopri5",
                           max_steps=args.max_steps, parallel=False, stop_at_grok=False)
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
    batched = dataclasses.replace(serial, parallel=True)
    run_kernel(prep, y0_rep[:2], par_rep[:2], EventOptions(), batched, t_out, t_max, False)
    t0 = time.perf_counter()
    run_kernel(prep, y0_rep, par_rep, EventOptions(), batched, t_out, t_max, False)
    dt_batch = (time.perf_counter() - t0) / reps
    print(f"  numba batched ({numba.get_num_threads()} threads):                "
          f"{k / dt_batch:10.1f} paths/s")
    print(f"  ratio per path, one thread each: {dt_scipy / dt_numba:.0f}x "
          f"(per RHS evaluation {(dt_scipy / nf_s.sum()) / (dt_numba / nf_n.sum()):.0f}x); "
          f"batched numba vs scipy: {dt_scipy / dt_batch:.0f}x")
    if both.any():
        rel = np.abs(tg_s[both] / tg_n[both] - 1)
        print(f"  t_grok agreement on {int(both.sum())} grokking paths: max relative "
              f"difference {rel.max():.1e}")
    phase_diagram(ds)
    return 0


def phase_diagram(ds: object, n: int = 100) -> None:
    """A predicted phase diagram of n × n cells (eta_d × gamma), once compiled."""
    from reduced_dynamics.phases.predicted import predicted_phases

    grid = {"eta_d": np.geomspace(1e-4, 1e-2, n), "gamma": np.linspace(0.0, 10.0, n)}
    predicted_phases(ds, grid={k: v[:2] for k, v in grid.items()})  # warm
    t0 = time.perf_counter()
    res = predicted_phases(ds, grid=grid)
    dt = time.perf_counter() - t0
    ph, cnt = np.unique(res["phase"].values, return_counts=True)
    print(f"\npredicted phase diagram, {n} x {n} = {n * n} cells (eta_d log 1e-4..1e-2 x "
          f"gamma 0..10): {dt:.2f} s ({n * n / dt:.0f} paths/s; phases "
          f"{dict(zip(ph.tolist(), cnt.tolist()))})")


if __name__ == "__main__":
    sys.exit(main())
