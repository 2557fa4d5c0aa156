"""The torch commands ``probe`` and ``train``: a task's reduced landscape and full training
runs of a sweep. ``register(subparsers)`` adds them; the threads, workers and device they
ask for are checked before any work (torch itself is needed only when they run:
`require_torch`)."""

from __future__ import annotations

import argparse
import shlex

import numpy as np

from reduced_dynamics.errors import InputError, ReducedDynamicsError

M_DEFAULT = "quad:0:1:21"  # toy addition: --m of `probe`
# command -> output kind
TORCH_COMMANDS = {"probe": "landscape", "train": "trajectory", "continuation": "landscape"}
TORCH_INSTALL = ("pip install torch==2.13.0 (the CPU build), then pip install \".[torch]\" "
                 "in the reduced_dynamics source folder")


def _probe(args: argparse.Namespace) -> int:
    import dataclasses

    from reduced_dynamics.checks import check_norms
    from reduced_dynamics.executors import executor_for
    from reduced_dynamics.gridspec import parse_grid
    from reduced_dynamics.io.lock import output_lock
    from reduced_dynamics.io.schema import now_iso
    from reduced_dynamics.landscape.sweep import ProbeGrid, probe_landscape, seeds_from_spec

    entry, task = _task_and_resources(args)
    overrides = {k: v for k, v in {
        "steps": args.steps, "lr": args.lr, "schedule": args.schedule,
        "lr_scaling": args.lr_scaling, "dtype": args.dtype, "chunk_size": args.chunk_size,
        "batch_size": args.batch_size,
    }.items() if v is not None}
    probe = dataclasses.replace(entry.probe_preset(task.preset), **overrides)
    seeds = (seeds_from_spec(args.seeds, entry.first_seed) if args.seeds is not None
             else entry.probe_seeds)
    if (args.w is None) == (args.alpha is None):
        raise InputError("give exactly one of `--w` (absolute norms) or `--alpha` (w / w0), "
                         "e.g. --alpha log:0.1:100:31")
    if args.w is not None:
        w = parse_grid("--w", args.w)
        check_norms("--w", w, probe.dtype)
    else:
        from reduced_dynamics.tasks.base import w0_of

        alpha, w0 = parse_grid("--alpha", args.alpha), w0_of(task, seeds[0])
        check_norms("--alpha", alpha, probe.dtype, scale=w0)
        w = alpha * w0
    n_train = None if args.n_train is None else _sizes("--n-train", args.n_train)
    if entry.has_m_for(task):
        m = tuple(map(float, parse_grid("--m", args.m if args.m is not None else M_DEFAULT)))
        grid = ProbeGrid(tuple(map(float, w)), m, seeds, n_train)
    else:
        if args.m is not None:
            raise InputError(f"task {entry.name!r} has no m coordinate (its landscape is "
                             f"1-D in w); drop `--m`, got {args.m!r}")
        grid = ProbeGrid.no_m(w, seeds, n_train)
    _check_batch_size(args, task, n_train)
    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    with output_lock(args.output), executor_for(args.scheduler, args.workers) as executor:
        ds = probe_landscape(task, probe, grid, args.output, resume=args.resume,
                             progress=not args.quiet, history=history, executor=executor,
                             overwrite=args.overwrite, device=args.device)
    n_bad = int((~ds["converged"]).sum())
    m_text = f" x {ds.sizes['m']} m" if "m" in ds.sizes else ""
    n_text = f" x {ds.sizes['n_train']} n_train" if "n_train" in ds.sizes else ""
    print(f"wrote {args.output}: {ds.sizes['w']} w{m_text}{n_text} x {len(seeds)} seed(s); "
          f"{n_bad} unconverged point(s){_diverged_note(ds, 'point')}")
    return 0


def _continuation(args: argparse.Namespace) -> int:
    from reduced_dynamics.io.lock import output_lock
    from reduced_dynamics.io.schema import now_iso
    from reduced_dynamics.landscape.continuation import continue_landscape

    _set_threads(args.threads)
    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    with output_lock(args.output):
        ds = continue_landscape(args.landscape, args.output, steps=args.steps, lr=args.lr,
                                resume=args.resume, overwrite=args.overwrite,
                                progress=not args.quiet, history=history)
    starts = {name: int((ds["probe_start"] == code).sum())
              for name, code in (("continued", 1), ("lift kept", 2))}
    print(f"wrote {args.output}: {int(ds['probe_start'].size)} point(s), "
          f"{starts['continued']} from the continuation, {starts['lift kept']} the lift "
          f"itself; {int((~ds['converged']).sum())} unconverged point(s)")
    return 0


def _task_and_resources(args: argparse.Namespace):
    """The task entry and preset of ``probe``/``train``, after checking the workers, the
    threads and the device they ask for."""
    from reduced_dynamics.tasks import get_task

    entry = get_task(args.task)
    _check_workers(args.workers)
    _set_threads(args.threads)
    _check_device(args.device)
    task = entry.preset(args.preset)
    return entry.for_preset(task.preset), task


def _sizes(option: str, spec: str) -> tuple[int, ...]:
    """Training-set sizes from a grid spec: rounded to integers, distinct, >= 1."""
    from reduced_dynamics.gridspec import parse_grid

    sizes = tuple(int(n) for n in np.unique(np.round(parse_grid(option, spec))))
    if sizes[0] < 1:
        raise InputError(f"`{option}` must be training-set sizes >= 1, got {spec!r}")
    return sizes


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from reduced_dynamics.checks import check_int
    from reduced_dynamics.config import RunSet
    from reduced_dynamics.executors import executor_for
    from reduced_dynamics.gridspec import parse_list
    from reduced_dynamics.io.lock import output_lock
    from reduced_dynamics.io.schema import now_iso
    from reduced_dynamics.landscape.sweep import seeds_from_spec
    from reduced_dynamics.training.sweep import check_runs, run_training

    entry, task = _task_and_resources(args)
    _check_representation_options(args, entry, task)
    # --eta-d / --eta-r: one rate sets the config's; a list makes a grid of runs (per-run
    # rates in one batched model, SPEC §13)
    eta_ds, eta_rs = (None if v is None else parse_list(o, v, minimum=0.0).tolist()
                      for o, v in (("--eta-d", args.eta_d), ("--eta-r", args.eta_r)))
    overrides = {k: v for k, v in {
        "steps": args.steps, "n_log": args.n_log, "dtype": args.dtype,
        "batch_size": args.batch_size, "optimizer": args.optimizer, "momentum": args.momentum,
        "start": args.start, "relax_steps": args.relax_steps,
        "eta_d": eta_ds[0] if eta_ds and len(eta_ds) == 1 else None,
        "eta_r": eta_rs[0] if eta_rs and len(eta_rs) == 1 else None,
    }.items() if v is not None}
    if args.wd_representation:
        overrides["wd_representation"] = True
    if args.constrain_norm:
        overrides["constrain_norm"] = True
    if args.n_log is None and isinstance(args.steps, int):  # the task's n_log, at most steps
        overrides["n_log"] = max(1, min(entry.train.n_log, args.steps))
    cfg = dataclasses.replace(entry.train, **overrides)
    if entry.has_m_for(task):
        m0 = parse_list("--m0", args.m0 if args.m0 is not None else str(entry.m0), minimum=0.0)
    elif args.m0 is not None:
        raise InputError(f"task {entry.name!r} has no m coordinate; drop `--m0`, got "
                         f"{args.m0!r}")
    else:
        m0 = np.zeros(1)
    # --constrain-norm keeps the norm fixed, so weight decay is off: its default gamma is 0
    gammas = (parse_list("--gamma", args.gamma, minimum=0.0).tolist()
              if args.gamma is not None else [0.0] if args.constrain_norm
              else list(entry.gammas))
    runs = RunSet.sweep(gammas,
                        (seeds_from_spec(args.seeds, entry.first_seed) if args.seeds is not None
                         else entry.train_seeds),
                        parse_list("--alpha0", args.alpha0).tolist() if args.alpha0 is not None
                        else list(entry.alpha0),
                        m0.tolist(),
                        None if args.n_train is None else _sizes("--n-train", args.n_train),
                        eta_ds=eta_ds if eta_ds and len(eta_ds) > 1 else None,
                        eta_rs=eta_rs if eta_rs and len(eta_rs) > 1 else None)
    if args.chunk_size is not None:
        check_int("--chunk-size", args.chunk_size, 1)
    _check_batch_size(args, task, runs.n_train)
    check_runs(task, cfg, runs)
    history = f"{now_iso()} reduced-dynamics {shlex.join(args.argv)}"
    with output_lock(args.output), executor_for(args.scheduler, args.workers) as executor:
        ds = run_training(task, cfg, runs, args.output, resume=args.resume,
                          progress=not args.quiet, history=history,
                          chunk_size=args.chunk_size, executor=executor,
                          overwrite=args.overwrite, device=args.device)
    grokked = int(np.isfinite(ds["t_grok"].values).sum())
    print(f"wrote {args.output}: {len(runs)} runs x {cfg.steps} steps; {grokked} grokked"
          f"{_diverged_note(ds, 'run')}")
    return 0


def _check_representation_options(args: argparse.Namespace, entry, task) -> None:
    """--eta-r and --wd-representation act on a representation: refused on a task without
    one (they would be recorded in the file and ignored)."""
    from reduced_dynamics.tasks.base import has_representation

    given = [o for o, v in (("--eta-r", args.eta_r), ("--wd-representation",
                                                      args.wd_representation or None))
             if v is not None]
    if given and not has_representation(task):
        raise InputError(f"`{given[0]}` has no effect on task {entry.name!r} (preset "
                         f"{task.preset!r}): it has no representation (no m coordinate, "
                         f"every parameter in theta); drop {' and '.join(given)}")


def _check_batch_size(args: argparse.Namespace, task, n_train) -> None:
    """--batch-size at most the largest training set of the sweep (before any work)."""
    from reduced_dynamics.batching.data import check_batch_size
    from reduced_dynamics.tasks.base import adapter_of

    check_batch_size("--batch-size", args.batch_size, adapter_of(task), n_train)


def _diverged_note(ds, what: str) -> str:
    """``"; 2 diverged run(s) (see `status`)"``, or nothing."""
    from reduced_dynamics.names import RunStatus

    n = (int((ds["status"].values == RunStatus.DIVERGED).sum())
         if "status" in ds.data_vars else 0)
    return f"; {n} diverged {what}(s) (NaN from `diverged_step`, see `status`)" if n else ""


def _check_device(device: str) -> None:
    """Refuse a device this machine lacks (--device cuda without CUDA) before any work."""
    from reduced_dynamics.batching.devices import resolve_device

    resolve_device(device)


def _max_threads() -> int:
    """Threads or worker processes one command may ask for: 4 x the cores here (torch
    crashes on absurd thread counts; more than the cores only slows down)."""
    import os

    return 4 * (os.cpu_count() or 1)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise InputError(f"`--threads` must be >= 1, got {threads}")
    if threads > _max_threads():
        raise InputError(f"`--threads` must be <= {_max_threads()} (4 x the cores of this "
                         f"machine), got {threads}")
    import torch

    torch.set_num_threads(threads)


def _check_workers(workers: int | None) -> None:
    if workers is not None and workers > _max_threads():
        raise InputError(f"`--workers` must be <= {_max_threads()} (4 x the cores of this "
                         f"machine; use --scheduler for a larger cluster), got {workers}")


def _torch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu (default), cuda (or cuda:N) or auto "
                   "(cuda where available); recorded in the file")
    p.add_argument("--batch-size", type=int, help="minibatches of this many training examples "
                   "(default: full batch)")


def _cluster_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="ADDRESS", help="send the chunks to a running "
                       "dask.distributed cluster, e.g. tcp://HOST:8786 (needs the `dask` "
                       "extra)")
    group.add_argument("--workers", type=int, metavar="N", help="start a dask LocalCluster "
                       "of N worker processes (one thread each) on this machine")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``probe`` and ``train`` to ``sub``; their help lists every registered task (the
    task registry loads its plugins here)."""
    from reduced_dynamics.tasks import REGISTRY

    task_help = "task name: " + ", ".join(REGISTRY)
    preset_help = ("the task's preset (default: its first); " + "; ".join(
        f"{e.name}: {', '.join(e.presets)}" for e in REGISTRY.values()))

    def per_task(value) -> str:
        """'toy-addition X; teacher-student Y; ...' from each registered task (`value(e)`)."""
        return "; ".join(f"{e.name} {value(e)}" for e in REGISTRY.values())

    def seeds_text(seeds: tuple[int, ...]) -> str:
        return ",".join(map(str, seeds))

    tasks_epilog = "tasks (registered, built-in and plugins of the entry-point group " \
        "reduced_dynamics.tasks):\n" + "\n".join(
            f"  {e.name}: {e.description} (presets: {', '.join(e.presets)})"
            for e in REGISTRY.values())
    p = sub.add_parser("probe", help="compute a reduced landscape with torch",
                       epilog=tasks_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", help=task_help)
    p.add_argument("--preset", metavar="PRESET", help=preset_help)
    p.add_argument("--w", help="absolute norms: list or KIND:START:STOP:NUM (lin, log, quad)")
    p.add_argument("--alpha", help="norms as multiples of w0, e.g. log:0.1:100:31")
    p.add_argument("--m", help=f"messiness grid (default {M_DEFAULT}; tasks with m only)")
    p.add_argument("--seeds", help="restarts: a count (3, counted from the task's first "
                   f"seed: {per_task(lambda e: e.first_seed)}) or a list (0,5,7); default: "
                   f"the task's ({per_task(lambda e: seeds_text(e.probe_seeds))})")
    p.add_argument("--steps", type=int, help="optimiser steps per point (preset default)")
    p.add_argument("--lr", type=float, help="Adam learning rate (preset default)")
    p.add_argument("--schedule", choices=["constant", "step", "cosine"],
                   help="learning-rate schedule over the steps (preset default; cosine decays "
                   "to 0 so the end point is settled)")
    p.add_argument("--lr-scaling", choices=["constant", "alpha"],
                   help="alpha: lr x max(1, w/w0), the same angular step on every sphere; "
                   "constant: lr (preset default)")
    p.add_argument("--dtype", choices=["float32", "float64"],
                   help="torch dtype of the probe (preset default, float32)")
    p.add_argument("--chunk-size", type=int, help="grid points per batched model (default 64)")
    p.add_argument("--n-train", help="training-set sizes (nested subsets; tasks with a subset "
                   "rule): list or KIND:START:STOP:NUM, rounded to integers; adds an n_train "
                   "axis to the landscape")
    _torch_options(p)
    p.add_argument("-o", "--output", required=True, help="landscape file to write (.nc)")
    p.add_argument("--resume", action="store_true", help="reuse finished chunks of a killed run "
                   "(refused if any setting differs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file "
                   "(without it an existing file is refused)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice); use 1 "
                   "when other jobs share the cores")
    _cluster_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_probe)

    from reduced_dynamics.names import CONTINUATION_DEFAULTS

    p = sub.add_parser("continuation", help="re-probe a landscape by continuation in w (ReLU "
                       "decoders): each sphere starts from the lifted minimiser of the one "
                       "below; every point keeps the lower train loss")
    p.add_argument("landscape", help="a finished landscape file (.nc) to start from")
    p.add_argument("--steps", type=int, default=CONTINUATION_DEFAULTS["steps"],
                   help="Adam steps per point and w (default %(default)s)")
    p.add_argument("--lr", type=float, default=CONTINUATION_DEFAULTS["lr"],
                   help="Adam learning rate, not scaled with w (default %(default)s)")
    p.add_argument("-o", "--output", required=True, help="landscape file to write (.nc)")
    p.add_argument("--resume", action="store_true", help="reuse the finished stages of a "
                   "killed run (refused if any setting differs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--threads", type=int, help="torch threads (use 1 when other jobs share "
                   "the cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_continuation)
    p = sub.add_parser("train", help="full training runs (AdamW, Adam or SGD) of a sweep",
                       epilog=tasks_epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", help=task_help)
    p.add_argument("--preset", metavar="PRESET", help=preset_help)
    from reduced_dynamics.study import values_text

    p.add_argument("--gamma", help="weight decays: list or log:0.1:3:5 (default: the task's "
                   f"study, the same as `predict`: {per_task(lambda e: values_text(e.gammas))})")
    p.add_argument("--seeds", help="a count (2, counted from the task's first seed: "
                   f"{per_task(lambda e: e.first_seed)}) or a list (0,5); default: the task's "
                   f"({per_task(lambda e: seeds_text(e.train_seeds))})")
    p.add_argument("--alpha0", help="initial norm / w0, list allowed (default: the task's "
                   "study start, the same as `predict`: "
                   f"{per_task(lambda e: values_text(e.alpha0))})")
    p.add_argument("--m0", help="initial messiness, list allowed (default: the task's study "
                   f"start: {per_task(lambda e: f'{e.m0:g}' if e.has_m else '-')}; tasks "
                   "with m only)")
    p.add_argument("--steps", type=int, help="default: "
                   f"{per_task(lambda e: e.train.steps)}")
    p.add_argument("--eta-d", metavar="LIST", help="learning rate of theta (default: "
                   f"{per_task(lambda e: f'{e.train.eta_d:g}')}); a list or grid spec "
                   "makes one run per rate (x gamma x ...), in one batched model")
    p.add_argument("--eta-r", metavar="LIST", help="representation learning rate (default: "
                   f"{per_task(lambda e: f'{e.train.eta_r:g}' if e.has_m else '-')}; tasks "
                   "with m only); a list makes one run per rate")
    p.add_argument("--optimizer", choices=("adamw", "adam", "sgd"), help="adamw (default, "
                   "the paper's: decoupled decay theta (1 - eta gamma)), adam (L2: Adam of "
                   "grad + gamma theta) or sgd (theta - eta (grad + gamma theta): full-batch "
                   "gradient descent, the reduced ODE's clock; SPEC 13)")
    p.add_argument("--momentum", type=float, help="heavy-ball momentum of --optimizer sgd "
                   "(default 0: plain gradient descent)")
    p.add_argument("--start", choices=("init", "relaxed"), help="init (default): theta at "
                   "the scaled default init; relaxed: theta first minimised at fixed norm "
                   "alpha0 w0 with the task's probe settings, the representation frozen at "
                   "R(m0); those steps are not counted in the run's time (SPEC 13)")
    p.add_argument("--relax-steps", type=int, help="steps of the relaxation of --start "
                   "relaxed (default: the task's probe preset's)")
    p.add_argument("--wd-representation", action="store_true",
                   help="apply weight decay to the representation too")
    p.add_argument("--n-train", help="training-set sizes of the runs, list or grid spec "
                   "(nested subsets of the task's training set; tasks with a subset rule); "
                   "default: the whole training set")
    p.add_argument("--constrain-norm", action="store_true",
                   help="rescale theta back to alpha0 w0 after every step (Fig. 7b); weight "
                   "decay must be 0 (the default --gamma becomes 0)")
    _torch_options(p)
    p.add_argument("--n-log", type=int, help="log-spaced logging steps (default: "
                   f"{per_task(lambda e: e.train.n_log)})")
    p.add_argument("--dtype", choices=["float32", "float64"], help="default float32")
    p.add_argument("-o", "--output", required=True, help="trajectory file to write (.nc)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint (or "
                   "from the finished chunks of a chunked run; refused if any setting "
                   "differs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file "
                   "(without it an existing file is refused)")
    p.add_argument("--chunk-size", type=int, help="runs per batched model, each chunk saved "
                   "when done (default: all runs in one checkpointed model; with --workers/"
                   "--scheduler one chunk per worker thread)")
    p.add_argument("--threads", type=int, help="torch threads")
    _cluster_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_train)


def require_torch(command: str) -> None:
    """`ReducedDynamicsError` with the install command when torch cannot be imported."""
    try:
        import torch

        # torch imports its compiler lazily when the first optimiser is built; an interrupt
        # inside that import (0.5 s of it) made the interpreter exit with SIGINT's status
        # (-2) instead of 130, so it is imported here, before SIGTERM becomes an interrupt
        import torch._dynamo  # noqa: F401
    except ImportError as exc:
        raise ReducedDynamicsError(f"`{command}` needs torch, which is not installed ({exc}); "
                                   f"install it with: {TORCH_INSTALL}") from None
