"""Probe throughput: the batched paths vs a per-point loop, side by side in one run.

Toy addition (paper preset), the same grid and steps for every line. The batched probe runs
all members as one model, through the default path for this MLP (``bmm``, hand-written
batched matmuls) and the generic path any module uses (``vmap``: ``functional_call`` +
``torch.func.vmap``). The loop is what the public Omnigrok notebooks do: one
``nn.Module`` and one Adam per grid point, a step, then a rescale back onto the sphere.
Prints point·steps per second, the achieved GFLOP/s and the ratios.

    python benchmarks/bench_probe.py [--members 64] [--steps 300]
    # on a GPU, with a CPU baseline in the same run (the loop is skipped on a GPU):
    python benchmarks/bench_probe.py --device cuda --members 651 --steps 300 \\
        --cpu-baseline-members 64

Timings wait for CUDA (``torch.cuda.synchronize``) and follow a warm-up probe of each path.
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import numpy as np
import torch

from reduced_dynamics.batching.devices import device_name, resolve_device, synchronize
from reduced_dynamics.batching.mlp_bmm import reference_mlp
from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.landscape.probe import probe_batch
from reduced_dynamics.tasks.base import w0_of
from reduced_dynamics.tasks.toy_addition import preset
from reduced_dynamics.tasks.toy_addition_torch import ToyAdditionTorch


def loop_probe(task, w, m, steps, lr, device):
    """Reference: a separate nn.Module + Adam per point, projected after every step."""
    tt = ToyAdditionTorch(task, torch.float32, device)
    out = []
    for wk, mk in zip(w, m):
        model = reference_mlp(task.layer_sizes, 0).to(device)
        params = list(model.parameters())
        with torch.no_grad():
            scale = wk / torch.sqrt(sum((p**2).sum() for p in params))
            for p in params:
                p.mul_(scale)
        x = tt.inputs(tt.representation(torch.tensor([mk], dtype=torch.float32, device=device)),
                      "train")[0]
        y = tt.targets[tt.labels["train"]]
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            with torch.no_grad():
                scale = wk / torch.sqrt(sum((p**2).sum() for p in params))
                for p in params:
                    p.mul_(scale)
        out.append(float(loss.detach()))
    return np.array(out)


def matmul_gflops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    synchronize(device)
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9


def grid(task, members: int) -> tuple[np.ndarray, np.ndarray]:
    """``members`` grid points: alpha log-spaced over [0.1, 100], m uniform (seeded)."""
    w = w0_of(task, 0) * np.geomspace(0.1, 100, members)
    return w, np.random.default_rng(0).uniform(0, 1, members)


def time_batched(task, members: int, steps: int, device: torch.device, path: str) -> float:
    """Seconds for one probe of ``members`` points, after a warm-up probe."""
    w, m = grid(task, members)
    seeds = np.zeros(members, int)
    probe = ProbeConfig(steps=steps, chunk_size=members)
    probe_batch(task, ProbeConfig(steps=10), w, m, seeds, device=device, path=path)  # warm-up
    synchronize(device)
    t = time.perf_counter()
    probe_batch(task, probe, w, m, seeds, device=device, path=path)
    synchronize(device)
    return time.perf_counter() - t


def time_loop(task, points: int, steps: int, device: torch.device) -> float:
    w, m = grid(task, points)
    loop_probe(task, w[:1], m[:1], 1, 1e-3, device)  # warm-up
    synchronize(device)
    t = time.perf_counter()
    loop_probe(task, w, m, steps, 1e-3, device)
    synchronize(device)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", "--points", type=int, default=64,
                        help="grid points probed as one batched model (default 64)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--loop-points", type=int, default=None,
                        help="points of the per-point loop (default: --members on a CPU, "
                        "none on a GPU)")
    parser.add_argument("--cpu-baseline-members", type=int, default=0,
                        help="also time the default path on the CPU with this many members")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    loop_points = (args.loop_points if args.loop_points is not None
                   else args.members if device.type == "cpu" else 0)
    task = preset("paper")
    flop_per_step = 3 * 2 * task.n_train * sum(a * b for a, b in pairwise(task.layer_sizes))
    print(f"toy addition (paper), {args.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads; {device}: {device_name(device)}")

    rows = []  # (device, method, points, seconds)
    for path in ("bmm", "vmap"):
        secs = time_batched(task, args.members, args.steps, device, path)
        rows.append((device, f"batched, {path}" + (" (default)" if path == "bmm" else ""),
                     args.members, secs))
    if loop_points:
        rows.append((device, "per-point loop (nn.Module + Adam)", loop_points,
                     time_loop(task, loop_points, args.steps, device)))
    cpu = torch.device("cpu")
    if args.cpu_baseline_members and device.type != "cpu":
        rows.append((cpu, "batched, bmm (default)", args.cpu_baseline_members,
                     time_batched(task, args.cpu_baseline_members, args.steps, cpu, "bmm")))

    print(f"{'device':6s} {'method':36s} {'points':>6s} {'seconds':>8s} {'pt*steps/s':>11s} "
          f"{'GFLOP/s':>8s}")
    rate = {}
    for dev, name, points, secs in rows:
        work = points * args.steps
        rate[(dev.type, name.split(" (")[0])] = work / secs
        print(f"{dev.type:6s} {name:36s} {points:6d} {secs:8.2f} {work / secs:11.0f} "
              f"{work * flop_per_step / secs / 1e9:8.1f}")
    here = device.type
    loop = rate.get((here, "per-point loop"))
    if loop:
        print(f"speed-up batched bmm / loop: {rate[(here, 'batched, bmm')] / loop:.1f}x; "
              f"vmap / loop: {rate[(here, 'batched, vmap')] / loop:.1f}x")
    print(f"bmm / vmap: {rate[(here, 'batched, bmm')] / rate[(here, 'batched, vmap')]:.2f}x")
    if ("cpu", "batched, bmm") in rate and here != "cpu":
        print(f"speed-up {here} bmm / cpu bmm (per point-step): "
              f"{rate[(here, 'batched, bmm')] / rate[('cpu', 'batched, bmm')]:.1f}x")
    print(f"large fp32 matmul (2048^3) on {here}: {matmul_gflops(device):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
