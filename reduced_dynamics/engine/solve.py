"""The kernel call: the end time and output grid of a batch of paths, its memory check, the
kernels' option vectors, and the call of the batched integrator (`driver`) on plain arrays.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from reduced_dynamics.engine import driver
from reduced_dynamics.engine import dynamics as dy
from reduced_dynamics.engine.interpolant import Interpolant, kernel_array
from reduced_dynamics.engine.options import EventOptions, SolverOptions
from reduced_dynamics.engine.prepare import PreparedLandscape
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import SOLVER_METHODS, PathStatus


def end_time(prep: PreparedLandscape, solver: SolverOptions, gamma: np.ndarray,
             eta_d: np.ndarray) -> float:
    """``solver.t_max``, or by default 20 ln(w_max/w_min) / (min η_D · min positive γ)
    (1e6 / min η_D when every γ = 0); never below 10 ``t_first``."""
    if solver.t_max is not None:
        return float(solver.t_max)
    span = float(prep.interp.ug[-1] - prep.interp.ug[0])
    pos = gamma[gamma > 0]
    with np.errstate(over="ignore", divide="ignore"):
        if pos.size == 0:
            t = np.float64(1e6) / eta_d.min()
            what = f"1e6 / eta_d = 1e6 / {eta_d.min():g}"
        else:
            t = np.float64(20.0 * span) / (eta_d.min() * pos.min())
            what = (f"20 ln(w_max/w_min) / (eta_d gamma) with eta_d = {eta_d.min():g}, "
                    f"gamma = {pos.min():g}")
    if not np.isfinite(t):
        raise InputError(f"the default end time t_max = {what} is not a finite number; give "
                         "larger rates or an explicit `t_max` (--t-max)")
    return max(float(t), 10.0 * solver.t_first)


def time_grid(solver: SolverOptions, t_max: float) -> np.ndarray:
    """The output times: 0, then ``n_times - 1`` log-spaced from ``t_first`` to ``t_max``."""
    return np.concatenate([[0.0], np.geomspace(solver.t_first, t_max, solver.n_times - 1)])


# Arrays the integrator and its results hold per path: states at the output times, the
# along-path losses and flags (~10 float64 per output time), and with a recorded path
# (path analysis) t, u, m for up to max_record points.
MEMORY_LIMIT = 2 * 2**30  # bytes: a larger request is refused, not allocated


def check_size(n_paths: int, solver: SolverOptions, record: bool, what: str) -> None:
    """Refuse a batch of paths whose arrays would exceed `MEMORY_LIMIT`."""
    per_path = 8 * 10 * solver.n_times + (8 * 3 * solver.max_record if record else 0)
    need = n_paths * per_path
    if need > MEMORY_LIMIT:
        most = max(1, MEMORY_LIMIT // per_path)
        raise InputError(f"{what} = {n_paths} paths would need about {need / 2**30:.3g} GiB "
                         f"(limit {MEMORY_LIMIT / 2**30:g} GiB, i.e. at most {most} paths "
                         "here); use fewer values")


def kernel_options(interp: Interpolant, events: EventOptions, solver: SolverOptions,
                   t_max: float) -> tuple[np.ndarray, np.ndarray]:
    """The integer and float option vectors of the kernels (layout in `dynamics`)."""
    iopt = np.zeros(dy.N_IOPT, np.int64)
    iopt[dy.I_LOG] = int(interp.log_scale)
    iopt[dy.I_OVERFIT_ACC] = int(events.overfit_on == "acc")
    iopt[dy.I_GROK_ACC] = int(events.grok_on == "acc")
    iopt[dy.I_STOP_GROK] = int(bool(solver.stop_at_grok))  # None: resolved by the caller
    iopt[dy.I_FIXED] = int(solver.fixed_step is not None)
    iopt[dy.I_MAX_STEPS] = solver.max_steps
    iopt[dy.I_REC_SUB] = solver.record_sub
    iopt[dy.I_METHOD] = SOLVER_METHODS.index(solver.method)
    fopt = np.zeros(dy.N_FOPT)
    fopt[dy.F_RTOL] = solver.rtol
    fopt[dy.F_ATOL] = solver.atol
    fopt[dy.F_TMAX] = t_max
    fopt[dy.F_H] = solver.fixed_step or 0.0
    fopt[dy.F_THR_TRAIN] = (events.train_acc_threshold if events.overfit_on == "acc"
                            else interp.threshold(events.theta_train))
    fopt[dy.F_THR_GROK] = (events.acc_threshold if events.grok_on == "acc"
                           else interp.threshold(float(events.theta_test)))
    fopt[dy.F_STAT_RTOL] = solver.stationary_rtol
    fopt[dy.F_STAT_ATOL] = solver.stationary_atol
    cap = 0.0 if solver.step_cap is None else solver.step_cap  # 0: no cap
    fopt[dy.F_CAP_U] = cap * float(np.mean(np.diff(interp.ug)))
    fopt[dy.F_CAP_M] = cap * float(np.mean(np.diff(interp.mg)))
    return iopt, fopt


def kernels_compiled(n_paths: int = 1, solver: SolverOptions | None = None) -> bool:
    """Whether the kernels a prediction uses are in numba's on-disk cache (else the call
    compiles them first: seconds after an install or upgrade, `_jit.cache_is_warm`;
    ``reduced-dynamics compile`` does it ahead of time). The arguments are kept for
    callers of earlier versions: every batch size and solver uses the same kernels."""
    from reduced_dynamics.engine import interpolant
    from reduced_dynamics.engine._jit import cache_is_warm

    return cache_is_warm(interpolant.eval_points, dy.velocities, driver.integrate_rows)


MIN_PARALLEL = 16  # paths: fewer run on the calling thread


def n_workers(parallel: bool, n_paths: int) -> int:
    """Threads for a batch: numba's thread count (``NUMBA_NUM_THREADS``, default the CPU
    count) when ``parallel`` and the batch has at least `MIN_PARALLEL` paths, else 1."""
    import numba

    return max(1, numba.get_num_threads()) if parallel and n_paths >= MIN_PARALLEL else 1


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    """One pool per thread count, made on first use and kept for the process."""
    return ThreadPoolExecutor(workers, thread_name_prefix="reduced-dynamics")


def run_rows(args: tuple, out: tuple, n: int, workers: int) -> None:
    """`driver.integrate_rows` over n paths: on this thread, or in chunks (small enough
    that fast and slow paths even out) on ``workers`` threads; the kernel releases the
    GIL."""
    if workers <= 1:
        driver.integrate_rows(0, n, *args, *out)
        return
    size = max(1, min(64, n // (8 * workers)))
    starts = range(0, n, size)
    pool = _pool(workers)
    for f in [pool.submit(driver.integrate_rows, lo, min(lo + size, n), *args, *out)
              for lo in starts]:
        f.result()


def run_kernel(prep: PreparedLandscape, alpha_m: np.ndarray, par: np.ndarray,
               events: EventOptions, solver: SolverOptions, t_out: np.ndarray, t_max: float,
               record: bool) -> dict[str, np.ndarray]:
    """Call the batched kernel on (n, 2) starts (alpha, m) and (n, 3) (η_D, η_R, γ)."""
    it = prep.interp
    n = alpha_m.shape[0]
    y0 = kernel_array(np.column_stack([np.log(alpha_m[:, 0] * it.w0), alpha_m[:, 1]]))
    iopt, fopt = kernel_options(it, events, solver, t_max)
    t_out = kernel_array(t_out)
    out = driver.outputs(n, t_out.shape[0], solver.max_record if record else 0)
    run_rows((y0, kernel_array(par), it.ug, it.mg, it.coef, it.nodes, iopt, fopt, t_out), out,
             n, n_workers(solver.parallel, n))
    y_out, ev_t, ev_y, status, counts, rec_t, rec_y, rec_n = out
    unset = ~np.isin(status, [int(s) for s in PathStatus])
    if unset.any():  # a kernel bug, not bad input: every path must end with a status
        raise RuntimeError(f"integrator left the status of {int(unset.sum())} path(s) unset "
                           f"(e.g. path {int(np.argmax(unset))}, parameters "
                           f"{par[np.argmax(unset)].tolist()})")
    return {"y_out": y_out, "ev_t": ev_t, "ev_y": ev_y, "status": status, "counts": counts,
            "rec_t": rec_t, "rec_y": rec_y, "rec_n": rec_n, "t_out": t_out}
