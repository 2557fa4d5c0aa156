"""Where the chunks of a sweep are computed: in this process, or on a dask.distributed cluster.

`io.parts.run_chunks` hands an executor a chunk function and the chunks still to do; the
executor yields ``(chunk, members, results)`` as each chunk finishes, and `run_chunks`
writes it at once as its own part file (`io.parts.PartStore`). Two executors:

* `LocalExecutor` (the default): one chunk after another in this process. Without
  ``--scheduler`` or ``--workers`` this is all that runs, and dask is never imported.
* `DaskExecutor`: every chunk is one task (``client.submit``) on a dask.distributed
  cluster. **The client writes the part files**, as futures complete
  (``distributed.as_completed``): workers only compute and return arrays, so they need no
  filesystem shared with the client, and there is one writer per sweep. A worker that dies
  in the middle of a chunk loses nothing but that chunk, which the scheduler reschedules on
  another worker (up to ``distributed.scheduler.allowed-failures`` times; default 3). A
  killed client keeps every part it wrote; ``--resume`` computes only the rest.

A chunk function is a picklable callable ``fn(members, progress=None) -> dict of arrays``
with a method ``work(members)`` (its progress units) and a ``name``. It must be a pure
function of its configuration and the member indices (`landscape.sweep.ProbeChunk`,
`training.sweep.TrainChunk`), so any worker computing a chunk gets the numbers this process
would. Each task limits the worker's torch, numba and BLAS threads (`limit_threads`,
one per task by default): a worker process runs one task per dask thread, and a
LocalCluster is started with ``threads_per_worker=1``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from reduced_dynamics.errors import InputError

ChunkResult = tuple[int, np.ndarray, dict[str, np.ndarray]]
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "NUMBA_NUM_THREADS")


class ChunkFunction(Protocol):
    name: str

    def __call__(self, members: np.ndarray, progress: Callable[[int], None] | None = None
                 ) -> dict[str, np.ndarray]: ...

    def work(self, members: np.ndarray) -> int: ...


class Executor(Protocol):
    remote: bool  # chunks run outside this process
    slots: int  # chunks that can run at the same time
    threads: int  # torch threads per chunk, where remote

    def map(self, fn: ChunkFunction, chunks: Sequence[tuple[int, np.ndarray]],
            progress: Callable[[int], None]) -> Iterator[ChunkResult]: ...


class LocalExecutor:
    """Compute the chunks one after another in this process (progress ticks per step)."""

    remote = False
    slots = 1

    def map(self, fn: ChunkFunction, chunks: Sequence[tuple[int, np.ndarray]],
            progress: Callable[[int], None]) -> Iterator[ChunkResult]:
        for chunk, members in chunks:
            yield chunk, members, fn(members, progress)


def limit_threads(n: int) -> None:
    """Use ``n`` threads for torch, numba and BLAS in this (worker) process."""
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def torch_threads(executor: Executor | None) -> int:
    """torch threads a chunk is computed with: the worker tasks' count, or this process's.

    Recorded in the files (``config_json``): torch's results depend on its thread count
    (parallel reductions round differently), and 10^3-10^4 Adam steps amplify that
    (`training.sweep` module docstring)."""
    if executor is not None and executor.remote:
        return int(executor.threads)
    import torch

    return torch.get_num_threads()


def run_chunk_task(fn: ChunkFunction, members: np.ndarray, threads: int
                   ) -> dict[str, np.ndarray]:
    """What a dask worker runs for one chunk."""
    limit_threads(threads)
    return fn(members)


class DaskExecutor:
    """Submit each chunk as one task to a dask.distributed ``client``; yield as they finish.

    ``threads``: torch/numba threads each task uses on its worker (1: a worker runs one
    task per dask thread). ``retries``: how often a chunk that *raised* is resubmitted
    (0: an exception is a bug and stops the sweep; a worker that *died* is handled by the
    scheduler, see the module docstring).
    """

    remote = True

    def __init__(self, client: Any, *, threads: int = 1, retries: int = 0) -> None:
        self.client = client
        self.threads = threads
        self.retries = retries

    @property
    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def map(self, fn: ChunkFunction, chunks: Sequence[tuple[int, np.ndarray]],
            progress: Callable[[int], None]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        if not chunks:
            return
        if len(chunks) < self.slots:
            warnings.warn(f"{len(chunks)} chunk(s) to compute on {self.slots} worker "
                          "thread(s): some workers stay idle; lower `--chunk-size` to use "
                          "them all", RuntimeWarning, stacklevel=3)
        tag = uuid.uuid4().hex[:8]
        pending = {}
        for chunk, members in chunks:
            future = self.client.submit(run_chunk_task, fn, members, self.threads,
                                        key=f"{fn.name}-chunk{chunk:05d}-{tag}",
                                        retries=self.retries)
            pending[future] = (chunk, members)
        try:
            for future in as_completed(list(pending)):
                chunk, members = pending.pop(future)
                result = future.result()  # raises what the task raised
                future.release()
                progress(fn.work(members))
                yield chunk, members, result
        finally:  # interrupted, or a part could not be written: stop the other chunks
            if pending:
                self.client.cancel(list(pending))


def default_chunk_size(n_members: int, executor: Executor) -> int:
    """One chunk per worker thread (all members in one chunk locally)."""
    return max(1, math.ceil(n_members / max(1, executor.slots)))


# dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536 (to return memory to the
# OS). Any explicit value switches off glibc's dynamic mmap threshold, so every torch
# tensor above 128 KiB (a 200 x 200 float32 layer is 160 KB) is mmapped and unmapped
# again at every step: measured here, the probe ran 2.0x slower (1.03 s instead of 0.52 s
# per chunk of 4 points x 300 steps). Unset, the workers run at the speed of this process.
WORKER_ENVIRON = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(workers: int, **kwargs: Any) -> Any:
    """A `distributed.LocalCluster` of ``workers`` processes with nannies, one thread each,
    without dask's malloc setting that slows torch down (`WORKER_ENVIRON`)."""
    import dask
    import distributed

    kwargs.setdefault("dashboard_address", ":0" if importlib.util.find_spec("bokeh") else None)
    with dask.config.set(WORKER_ENVIRON):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                        processes=True, **kwargs)


CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler and get its answer
SCHEMES = ("tcp", "tls", "ws", "wss")  # dask comm schemes that run over TCP


def _scheduler_address(address: str) -> tuple[str, str, int]:
    """(full address, host, port) of a ``--scheduler`` string, or `InputError`."""
    from distributed.comm.addressing import parse_address, parse_host_port, unparse_address

    example = "e.g. tcp://HOST:8786 (the address `dask scheduler` prints)"
    try:
        scheme, loc = parse_address(address.strip(), strict=False)
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; use one of {list(SCHEMES)}")
        host, port = parse_host_port(loc)
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"bad host {host!r}")
        if not 0 < int(port) < 65536:
            raise ValueError(f"port {port} is not in 1..65535")
    except (ValueError, TypeError) as exc:
        raise InputError(f"`--scheduler` must be a dask scheduler address, {example}; got "
                         f"{address!r} ({exc})") from None
    return unparse_address(scheme, loc), host, int(port)


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT) -> str:
    """Make sure a dask scheduler answers at ``address`` within ``timeout`` seconds.

    Fails fast with `InputError` saying what is there instead: nothing (connection
    refused), an unknown host, no answer at all, a server that accepts connections but does
    not speak dask (it never answers, or answers garbage), or a dask worker or nanny.
    Returns the normalised address.
    """
    import asyncio
    import concurrent.futures
    import socket

    from distributed.comm import connect

    full, host, port = _scheduler_address(address)
    where = f"`--scheduler` {address!r}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise InputError(f"{where}: nothing is listening at {host}:{port} (connection "
                         "refused); start a scheduler with `dask scheduler` or check the "
                         "port") from None
    except socket.gaierror as exc:
        raise InputError(f"{where}: host {host!r} could not be resolved ({exc.strerror})"
                         ) from None
    except TimeoutError:
        raise InputError(f"{where}: no answer from {host}:{port} within {timeout:g} s (host "
                         "down, or a firewall drops the connection)") from None
    except OSError as exc:
        raise InputError(f"{where}: could not connect to {host}:{port} "
                         f"({exc.strerror or exc})") from None

    async def identity() -> Any:
        comm = await asyncio.wait_for(connect(full, timeout=timeout), timeout)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    # in a thread of its own: the caller may already run an event loop (a notebook)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            reply = pool.submit(asyncio.run, identity()).result(timeout=3 * timeout + 5)
        except (TimeoutError, concurrent.futures.TimeoutError):
            raise InputError(f"{where}: something at {host}:{port} accepted the connection "
                             f"but did not answer as a dask scheduler within {timeout:g} s; "
                             "it is not a dask scheduler (or speaks another protocol); give "
                             "the address `dask scheduler` prints") from None
        except Exception as exc:  # comm errors of many types: a server that is not dask
            raise InputError(f"{where}: the server at {host}:{port} is not a dask scheduler "
                             f"(its answer could not be read: {type(exc).__name__}: {exc})"
                             ) from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise InputError(f"{where}: {host}:{port} is a dask {kind or 'server'}, not a "
                         "scheduler; give the scheduler's address (`dask scheduler` prints "
                         "it)")
    return full


@contextlib.contextmanager
def executor_for(scheduler: str | None = None, workers: int | None = None, *,
                 connect_timeout: float = CONNECT_TIMEOUT) -> Iterator[Executor]:
    """The executor of the ``--scheduler`` / ``--workers`` options (neither: local).

    ``workers=N`` starts a `distributed.LocalCluster` of N worker processes (with nannies,
    one thread each) on this machine for the duration of the block; ``scheduler`` connects
    to a running cluster (e.g. ``tcp://HOST:8786``), giving up after ``connect_timeout``
    seconds with a message saying what answered (`check_scheduler`). dask is imported only
    here.
    """
    if scheduler is None and workers is None:
        yield LocalExecutor()
        return
    if scheduler is not None and workers is not None:
        raise InputError(f"give at most one of `--scheduler` (a running cluster) and "
                         f"`--workers` (a cluster on this machine), got --scheduler "
                         f"{scheduler!r} and --workers {workers}")
    if workers is not None and workers < 1:
        raise InputError(f"`--workers` must be >= 1, got {workers}")
    try:
        import distributed
    except ImportError:
        raise InputError("`--scheduler` and `--workers` need dask.distributed: "
                         "pip install 'reduced-dynamics[dask]'") from None
    with contextlib.ExitStack() as stack:
        if workers is not None:
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            address = check_scheduler(scheduler, connect_timeout)
            try:
                client = stack.enter_context(distributed.Client(
                    address, timeout=f"{connect_timeout}s"))
            except (OSError, TimeoutError) as exc:
                raise InputError(f"`--scheduler`: could not connect to the dask scheduler at "
                                 f"{scheduler!r} ({exc}); check that it is still running"
                                 ) from None
        yield DaskExecutor(client)
