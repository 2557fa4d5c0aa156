"""A landscape sweep in one process vs on a dask LocalCluster, measured in one run.

Prints, for the same grid and steps (toy addition, `paper` preset):

* the wall time of the sweep in this process (torch with 1 thread, and with torch's
  default thread count), and with ``--workers N`` worker processes (one thread each):
  cluster start-up, the first sweep (workers import torch on their first task), and a
  second sweep on the warm cluster; all results are checked to be identical;
* the same warm sweep on a plain ``distributed.LocalCluster``, whose nannies set
  MALLOC_TRIM_THRESHOLD_=65536 (`reduced_dynamics.executors.WORKER_ENVIRON` unsets it);
* the per-chunk overhead: a sweep of trivially short chunks (10 steps, one point each)
  via dask minus the same sweep here, divided by the number of chunks — on a 1-worker
  cluster (serial against serial: the pure overhead) and on the N-worker cluster; and a
  bare dask round trip for scale.

Every timed sweep writes its part files and merges them into a landscape file, as the
CLI does.

    python benchmarks/bench_distributed.py [--w 4] [--m 4] [--steps 300] [--chunk-size 4]
                                           [--workers 2] [--short-chunks 16]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.executors import DaskExecutor, LocalExecutor, local_cluster
from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape
from reduced_dynamics.tasks.base import w0_of
from reduced_dynamics.tasks.toy_addition import preset


def timed_sweep(task, probe, grid, folder: Path, name: str, executor) -> tuple[float, xr.Dataset]:
    t0 = time.perf_counter()
    ds = probe_landscape(task, probe, grid, folder / f"{name}.nc", progress=False,
                         executor=executor)
    return time.perf_counter() - t0, ds


def noop(i: int) -> int:
    return i


def same(a: xr.Dataset, b: xr.Dataset) -> bool:
    return all(a[k].identical(b[k]) for k in a.data_vars)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--w", type=int, default=4, help="norms in the grid (alpha 0.3..30)")
    ap.add_argument("--m", type=int, default=4, help="messiness values (0..0.5)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--short-chunks", type=int, default=16,
                    help="chunks of one point x 10 steps for the overhead measurement")
    args = ap.parse_args()
    from distributed import Client

    task = preset("paper")
    w0 = w0_of(task, 0)
    grid = ProbeGrid(tuple(w0 * np.geomspace(0.3, 30.0, args.w)),
                     tuple(np.linspace(0.0, 0.5, args.m)), (0,))
    probe = ProbeConfig(steps=args.steps, chunk_size=args.chunk_size)
    n_points = args.w * args.m
    n_chunks = -(-n_points // args.chunk_size)
    short_grid = ProbeGrid(tuple(w0 * np.geomspace(0.3, 30.0, args.short_chunks)), (0.0,),
                           (0,))
    short = ProbeConfig(steps=10, chunk_size=1)
    default_threads = torch.get_num_threads()
    print(f"machine: {os.cpu_count()} cores; torch {torch.__version__}, default "
          f"{default_threads} thread(s)")
    print(f"sweep: {n_points} points x {args.steps} steps in {n_chunks} chunk(s) of "
          f"{args.chunk_size}")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.set_num_threads(1)
        timed_sweep(task, short, short_grid, folder, "warmup0", LocalExecutor())
        t_one, ref = timed_sweep(task, probe, grid, folder, "one", LocalExecutor())
        torch.set_num_threads(default_threads)
        t_default, ds = timed_sweep(task, probe, grid, folder, "default", LocalExecutor())
        print(f"  one process, 1 torch thread:            {t_one:7.2f} s")
        print(f"  one process, {default_threads} torch thread(s):          "
              f"{t_default:7.2f} s   identical: {same(ref, ds)}")
        torch.set_num_threads(1)
        t_local_short, short_ref = timed_sweep(task, short, short_grid, folder, "short",
                                               LocalExecutor())

        t0 = time.perf_counter()
        with local_cluster(args.workers, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            t_start = time.perf_counter() - t0
            ex = DaskExecutor(client)
            t_first, ds1 = timed_sweep(task, probe, grid, folder, "dask1", ex)
            t_warm, ds2 = timed_sweep(task, probe, grid, folder, "dask2", ex)
            t_dask_short, ds3 = timed_sweep(task, short, short_grid, folder, "dshort", ex)
        print(f"  --workers {args.workers}: cluster start-up:        {t_start:7.2f} s")
        print(f"  --workers {args.workers}: first sweep:             {t_first:7.2f} s   "
              f"identical: {same(ref, ds1)}")
        print(f"  --workers {args.workers}: sweep on warm cluster:   {t_warm:7.2f} s   "
              f"identical: {same(ref, ds2)}")
        print(f"  speed-up vs 1 thread (warm): {t_one / t_warm:.2f}x; including start-up "
              f"and first sweep: {t_one / (t_start + t_first):.2f}x")

        from distributed import LocalCluster  # dask's own worker environment, for comparison

        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            ex = DaskExecutor(client)
            timed_sweep(task, probe, grid, folder, "plain1", ex)
            t_plain, ds5 = timed_sweep(task, probe, grid, folder, "plain2", ex)
        print(f"  same, dask's default worker environment (MALLOC_TRIM_THRESHOLD_=65536), "
              f"warm: {t_plain:.2f} s   identical: {same(ref, ds5)}")

        with local_cluster(1, dashboard_address=None) as cluster, Client(cluster) as client:
            ex = DaskExecutor(client)
            timed_sweep(task, short, short_grid, folder, "warmup", ex)  # import torch
            t_serial_short, ds4 = timed_sweep(task, short, short_grid, folder, "sshort", ex)
            t0 = time.perf_counter()
            for i in range(args.short_chunks):
                client.submit(noop, i, pure=False).result()
            t_noop = (time.perf_counter() - t0) / args.short_chunks
        n = args.short_chunks
        print(f"per-chunk overhead ({n} chunks of 1 point x 10 steps; here: "
              f"{t_local_short:.2f} s = {1e3 * t_local_short / n:.1f} ms/chunk):")
        print(f"  1 worker:  {t_serial_short:6.2f} s -> "
              f"{1e3 * (t_serial_short - t_local_short) / n:+.1f} ms/chunk   identical: "
              f"{same(short_ref, ds4)}")
        print(f"  {args.workers} workers: {t_dask_short:6.2f} s -> "
              f"{1e3 * (t_dask_short - t_local_short) / n:+.1f} ms/chunk (parallel, so "
              f"lower than the true cost)   identical: {same(short_ref, ds3)}")
        print(f"  for scale: a bare dask round trip (submit a no-op, wait): "
              f"{1e3 * t_noop:.1f} ms")


if __name__ == "__main__":
    main()
