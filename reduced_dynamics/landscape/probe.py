"""The constrained-norm probe (SPEC §2): many grid points as one batched torch model.

For each member b with norm ``w_b``, messiness ``m_b``, training-set size ``n_b`` and init
seed ``s_b``:
    theta <- Adam step on l_train(theta; R(m_b), first n_b examples);
    theta <- theta * w_b / ||theta||
and at the end, on the sphere: losses, accuracies and the envelope derivatives
    d l~/dw = theta_hat . grad_theta l_train,     d l~/dm = d l_train / dm |_theta.
The task (module, theta, data, loss, accuracy) comes from its torch adapter
(`reduced_dynamics.tasks`); the members are one batched model
(`reduced_dynamics.batching`), stepped by `batching.step.optimizer_step`. A task without a
representation coordinate has no m and no d l~/dm; a task with a subset rule may give each
member its own n_train.

A member that overflows (norm, loss, gradient or a result inf/NaN) is frozen at that step
(`batching.divergence.DivergenceGuard`); the others go on bit for bit as without it. It is
returned with ``status`` diverged, its ``diverged_step`` (``steps``: only the final
measurement overflowed), NaN results and ``converged`` False.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from reduced_dynamics.batching import mlp_bmm as bm
from reduced_dynamics.batching.data import MemberData
from reduced_dynamics.batching.devices import flushed_denormals, resolve_device
from reduced_dynamics.batching.divergence import DivergenceGuard, finite_members
from reduced_dynamics.batching.evaluation import evaluate, members_for
from reduced_dynamics.batching.members import Members
from reduced_dynamics.batching.sphere import minimise_on_sphere
from reduced_dynamics.batching.stacking import project_, sq_norm
from reduced_dynamics.config import ProbeConfig
from reduced_dynamics.names import PROBE_VARS
from reduced_dynamics.tasks import TorchTask, torch_task

__all__ = ["measure_members", "probe_batch", "probe_members", "result_vars"]


def result_vars(has_m: bool) -> tuple[str, ...]:
    """What `probe_batch` returns: `names.PROBE_VARS`, without ``dtrain_dm`` for a task
    without m."""
    return PROBE_VARS if has_m else tuple(v for v in PROBE_VARS if v != "dtrain_dm")


def probe_batch(
    task,
    probe: ProbeConfig,
    w: np.ndarray,
    m: np.ndarray | None,
    seeds: np.ndarray,
    progress: Callable[[int], None] | None = None,
    *,
    n_train: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    path: str = "auto",
) -> dict[str, np.ndarray]:
    """`probe_members` without the end points."""
    return probe_members(task, probe, w, m, seeds, progress, n_train=n_train, device=device,
                         path=path)[0]


def probe_members(
    task,
    probe: ProbeConfig,
    w: np.ndarray,
    m: np.ndarray | None,
    seeds: np.ndarray,
    progress: Callable[[int], None] | None = None,
    *,
    n_train: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    path: str = "auto",
    theta0: list[torch.Tensor] | None = None,
) -> tuple[dict[str, np.ndarray], list[torch.Tensor]]:
    """Minimise l_train over directions at fixed norm for B members at once.

    ``task`` is a task config (`reduced_dynamics.tasks`); ``w``, ``m``, ``seeds`` are (B,)
    arrays (``m`` may be None for a task without m: it is ignored there); ``n_train``
    (B,) training-set sizes for a task with a subset rule (None: the whole training set).
    ``device``: "cpu", "cuda" or "auto"; ``path``: how the members are batched ("auto",
    "bmm", "vmap", "loop"; `reduced_dynamics.batching.build`). Returns (B,) numpy arrays
    named as in `result_vars`. ``progress(k)`` is called with the number of member-steps
    done since the last call. ``theta0``: stacked θ leaves (B, ...) to start from instead
    of each seed's init (the continuation in w, `landscape.continuation`); projected onto
    the spheres ``w`` first. Returns the results and the end points' θ leaves (detached).
    """
    dev = resolve_device(device)
    dtype = torch.float32 if probe.dtype == "float32" else torch.float64
    tt = torch_task(task, dtype, dev)
    w, seeds = (np.asarray(a).ravel() for a in (w, seeds))
    n = w.size
    m_t = (torch.as_tensor(np.asarray(m).ravel(), dtype=dtype, device=dev) if tt.has_m
           else None)
    with torch.no_grad():
        rep = tt.representation(m_t) if tt.has_m else None
    data = MemberData(tt, n, seeds=seeds, n_train=n_train, batch_size=probe.batch_size,
                      shuffle_seed=probe.shuffle_seed)
    members = members_for(tt, seeds, dtype, dev, path, sample=(rep, data.train_batch(0)))
    params = members.theta
    if theta0 is not None:
        if len(theta0) != len(params) or any(a.shape != p.shape
                                               for a, p in zip(theta0, params)):
            raise ValueError("`theta0` must have the shapes of the members' theta leaves, "
                             f"{[tuple(p.shape) for p in params]}, got "
                             f"{[tuple(a.shape) for a in theta0]}")
        with torch.no_grad():
            for p, a in zip(params, theta0):
                p.copy_(a)
    norm = torch.as_tensor(w, dtype=dtype, device=dev)
    project_(params, norm)
    guard = DivergenceGuard(params)
    guard.mark(0, finite_members([sq_norm(params)]))  # |theta|^2 overflows: w too large
    w0 = np.array([tt.w0(int(s)) for s in seeds])

    with flushed_denormals(dev):
        loss_at_mark = minimise_on_sphere(tt, members, rep, data, probe, norm, guard, w / w0,
                                          progress)
    out = _measure(tt, members, m_t, loss_at_mark, probe, data)
    guard.mark(probe.steps, np.logical_and.reduce(
        [np.isfinite(v) for k, v in out.items() if k != "converged"]))
    for k, v in out.items():
        v[guard.diverged] = False if k == "converged" else np.nan
    out["status"] = guard.status()
    out["diverged_step"] = guard.step_or_nan()
    return out, [p.detach().clone() for p in params]


def measure_members(task, probe: ProbeConfig, theta: list[torch.Tensor], m: np.ndarray | None,
                    seeds: np.ndarray, *, n_train: np.ndarray | None = None,
                    device: str | torch.device = "cpu") -> dict[str, np.ndarray]:
    """The results of `probe_members` at the given stacked θ leaves, without a step:
    losses, accuracies, envelope derivatives there (``loss_rel_change`` 0; ``converged``
    only says the values are finite). The continuation in w measures a lifted start."""
    dev = resolve_device(device)
    dtype = theta[0].dtype
    tt = torch_task(task, dtype, dev)
    seeds = np.asarray(seeds).ravel()
    m_t = (torch.as_tensor(np.asarray(m).ravel(), dtype=dtype, device=dev) if tt.has_m
           else None)
    data = MemberData(tt, seeds.size, seeds=seeds, n_train=n_train)
    members = members_for(tt, seeds, dtype, dev)
    with torch.no_grad():
        for p, a in zip(members.theta, theta):
            p.copy_(a.to(dev))
    out = _measure(tt, members, m_t, None, probe, data)
    out["status"] = np.where(np.isfinite(out["train_loss"]), 0, 1).astype(np.int64)
    out["diverged_step"] = np.full(seeds.size, np.nan)
    return out


def _measure(tt: TorchTask, members: Members | bm.Params, m_t: torch.Tensor | None,
             loss_at_mark: torch.Tensor | None, probe: ProbeConfig,
             data: MemberData | None = None) -> dict[str, np.ndarray]:
    """Losses, accuracies, envelope derivatives and diagnostics at the projected point.

    ``members`` may also be bare ``[W1, b1, ...]`` leaves of the bmm MLP path."""
    if isinstance(members, list):
        members = bm.BmmMembers.from_leaves(members, tt.make_module(0))
    if data is None:
        data = MemberData(tt, members.size)
    params = members.theta
    if tt.has_m:
        m_req = m_t.clone().requires_grad_(True)
        rep = tt.representation(m_req)
        wrt = [*params, m_req]
    else:
        rep, wrt = None, list(params)
    train = evaluate(tt, members, rep, "train", data, wrt)
    g_theta = train.grads[: len(params)]
    with torch.no_grad():
        test = evaluate(tt, members, None if rep is None else rep.detach(), "test", data)
        norm = sq_norm(params).sqrt()
        radial = sum((g * p).flatten(1).sum(1) for g, p in zip(g_theta, params)) / norm
        g_norm = sq_norm(list(g_theta)).sqrt()
        tangent = (g_norm.pow(2) - radial.pow(2)).clamp_min(0).sqrt()
        ratio = torch.where(g_norm > 0, tangent / g_norm.clamp_min(1e-300),
                            torch.zeros_like(g_norm))
        l_end = train.loss
        l_mark = loss_at_mark if loss_at_mark is not None else l_end
        rel_change = (l_end - l_mark).abs() / l_mark.abs().clamp_min(1e-30)
        tol = probe.rel_change_tol * l_mark.abs() + probe.abs_change_tol
        settled = (l_end - l_mark).abs() <= tol
        out = {
            "train_loss": l_end,
            "test_loss": test.loss,
            "train_acc": train.acc,
            "test_acc": test.acc,
            "dtrain_dw": radial,
            "tangent_grad_ratio": ratio,
            "loss_rel_change": rel_change,
            # The tangent ratio is recorded but not used: at Adam's end points it stays near 1
            # even where the loss has settled (the residual gradient is noise in flat
            # directions), so it cannot tell converged points apart. See README.
            "converged": settled & torch.isfinite(l_end),
        }
        if tt.has_m:
            out["dtrain_dm"] = train.grads[-1]
        out = {k: out[k] for k in result_vars(tt.has_m) if k in out}
    return {k: v.detach().cpu().numpy().astype(bool if k == "converged" else np.float64)
            for k, v in out.items()}
