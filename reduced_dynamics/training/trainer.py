"""Full training runs (SPEC §6): many runs as one batched torch model, checkpointed.

Each run b has its own representation R_b (starts at R(m0_b), lr eta_r) and network whose
theta_b starts at the default init for seed_b scaled to norm alpha0_b w0 (lr eta_d_b),
trained by AdamW (default):
    theta_b <- theta_b (1 - eta_d_b gamma_b)  then the Adam update     (decoupled decay)
which is exactly torch.optim.AdamW with weight_decay=gamma_b, member by member; or by Adam
or plain gradient descent with the L2 term (`training.optimizers`, SPEC §13). Rates may
differ per run (`RunSet.eta_d`, ``eta_r``). The
module's parameters outside theta (if the task has any) are trained like the
representation. With ``constrain_norm`` (Fig. 7b), theta_b is rescaled back to
alpha0_b w0 after every step, and gamma must be 0.

A task without a representation coordinate (teacher–student) trains theta only; its
logged ``m`` and ``residual`` are 0 (not applicable) and ``m0`` must be 0.

A run that overflows (its loss, a gradient or a logged value inf/NaN) is frozen at that
step (`batching.divergence.DivergenceGuard`) while the others go on bit for bit as without
it; it is returned with ``status`` diverged, its ``diverged_step``, and NaN logs from then on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from reduced_dynamics.batching.data import MemberData
from reduced_dynamics.batching.devices import device_record, resolve_device
from reduced_dynamics.batching.divergence import DivergenceGuard, finite_members
from reduced_dynamics.batching.evaluation import evaluate, member_loss, members_for, predict
from reduced_dynamics.batching.stacking import project_, sq_norm
from reduced_dynamics.batching.step import optimizer_step
from reduced_dynamics.config import RunSet, TrainConfig
from reduced_dynamics.engine.thresholds import first_crossing, grok_times, task_grok_threshold
from reduced_dynamics.errors import FileCheckError, InputError, WriteError
from reduced_dynamics.io.atomic import atomic_path, needed_bytes
from reduced_dynamics.io.fingerprint import check_resume
from reduced_dynamics.names import ACC_THRESHOLD, LOGGED_VARS
from reduced_dynamics.tasks import torch_task
from reduced_dynamics.training.fingerprint import train_fingerprint
from reduced_dynamics.training.optimizers import add_l2_, decay_, make_optimizer


def project_on_line(rep: torch.Tensor, r_lin: torch.Tensor, r_rand: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """m_hat = <R - R_lin, D> / |D|^2 and residual |R - R(m_hat)| / |D|, D = R_rand - R_lin."""
    delta = (r_rand - r_lin).flatten()
    diff = (rep - r_lin).flatten(1)
    dd = delta.dot(delta)
    m_hat = diff @ delta / dd
    resid = (diff - m_hat[:, None] * delta).norm(dim=1) / dd.sqrt()
    return m_hat, resid


class BatchedRuns:
    """State of B runs: theta and other parameters, representations, optimiser; one step at
    a time. ``params`` are the stacked leaves of theta (`reduced_dynamics.batching`)."""

    def __init__(self, task, cfg: TrainConfig, runs: RunSet, *,
                 device: str | torch.device = "cpu", path: str = "auto") -> None:
        cfg.check_runs(runs)
        self.task, self.cfg, self.runs = task, cfg, runs
        self.device = resolve_device(device)
        self.dtype = torch.float32 if cfg.dtype == "float32" else torch.float64
        self.tt = torch_task(task, self.dtype, self.device)
        seeds = np.asarray(runs.seed)
        if self.tt.has_m:
            m0 = torch.as_tensor(runs.m0, dtype=self.dtype, device=self.device)
            self.rep = self.tt.representation(m0).detach().clone().requires_grad_(True)
        else:
            if any(m != 0 for m in runs.m0):
                raise InputError(f"this task has no representation coordinate: `m0` must be "
                                 f"0, got {sorted(set(runs.m0))}")
            self.rep = None
        n_train = None if runs.n_train is None else np.asarray(runs.n_train)
        self.data = MemberData(self.tt, len(runs), seeds=seeds, n_train=n_train,
                               batch_size=cfg.batch_size,
                               shuffle_seed=cfg.shuffle_seed)
        self.members = members_for(self.tt, seeds, self.dtype, self.device, path,
                                   sample=(self.rep, self.data.train_batch(0)))
        self.params = self.members.theta
        w0 = np.array([self.tt.w0(int(s)) for s in seeds])
        self.norm0 = torch.as_tensor(np.asarray(runs.alpha0) * w0, dtype=self.dtype,
                                     device=self.device)
        project_(self.params, self.norm0)
        self.eta_d = self._rate(runs.rates("eta_d", cfg.eta_d))
        self.eta_r = self._rate(runs.rates("eta_r", cfg.eta_r))
        groups = [{"params": self.params, "lr": self.eta_d}]
        others = ([self.rep] if self.rep is not None else []) + self.members.rest
        if others:
            groups.append({"params": others, "lr": self.eta_r})
        self.opt = make_optimizer(cfg.optimizer, groups, betas=(cfg.beta1, cfg.beta2),
                                  eps=cfg.eps, momentum=cfg.momentum, device=self.device)
        self.base_lr = [g["lr"] for g in self.opt.param_groups]
        self.gamma = torch.as_tensor(runs.gamma, dtype=self.dtype, device=self.device)
        self.decoupled = cfg.optimizer == "adamw"
        self.decay_rep = cfg.wd_representation and bool(others)
        self.leaves = [*self.params, *others]  # everything trained
        self.guard = DivergenceGuard(self.leaves)
        self.step = 0

    def relax(self) -> None:
        """The relaxed start (SPEC §13, `training.start`): theta minimised at fixed norm
        alpha0 w0 by the probe's constrained optimiser with the task's probe settings, the
        representation frozen at R(m0); not a training step (``self.step`` stays 0). A run
        that overflows there is frozen from step 0."""
        from reduced_dynamics.batching.sphere import minimise_on_sphere
        from reduced_dynamics.training.start import relax_probe

        probe = relax_probe(self.task, self.cfg)
        runs = self.runs
        data = MemberData(self.tt, len(runs), seeds=np.asarray(runs.seed),
                          n_train=None if runs.n_train is None else np.asarray(runs.n_train),
                          batch_size=probe.batch_size, shuffle_seed=probe.shuffle_seed)
        guard = DivergenceGuard(self.params)
        rep = None if self.rep is None else self.rep.detach()
        minimise_on_sphere(self.tt, self.members, rep, data, probe, self.norm0, guard,
                           np.asarray(runs.alpha0, float))
        self.guard.mark(0, ~guard.diverged)

    def _rate(self, values: tuple[float, ...]) -> float | torch.Tensor:
        """One learning rate for every run (a float: torch's optimisers, bit-identical to a
        run alone), else one per run (a tensor over the member axis)."""
        if len(set(values)) == 1:
            return float(values[0])
        return torch.as_tensor(values, dtype=self.dtype, device=self.device)

    def advance(self) -> None:
        """One optimiser step of every run (`batching.step.optimizer_step`; `optimizers`:
        adamw, adam or sgd, weight decay γ per run; then, with constrain_norm, back onto the
        sphere); a run whose loss or gradient is not finite is frozen."""
        sel = self.data.train_batch(self.step)
        rep_group = self.opt.param_groups[1]["params"] if self.decay_rep else []

        def l2() -> None:  # adam, sgd: L2 through the gradient, grad + gamma theta
            add_l2_([*self.params, *rep_group], self.gamma)

        def rates_and_decay() -> None:
            factor = self.cfg.lr_factor(self.step)
            eta_d, eta_r = self.eta_d, self.eta_r
            if factor != 1.0:  # warm-up: the rates and AdamW's decay eta gamma scale together
                for group, base in zip(self.opt.param_groups, self.base_lr):
                    group["lr"] = base * factor
                eta_d, eta_r = factor * eta_d, factor * eta_r
            elif self.step == self.cfg.warmup_steps > 0:
                for group, base in zip(self.opt.param_groups, self.base_lr):
                    group["lr"] = base
            if self.decoupled:  # AdamW: theta (1 - eta gamma) before the Adam step
                decay_(self.params, 1.0 - eta_d * self.gamma)
                if rep_group:
                    decay_(rep_group, 1.0 - eta_r * self.gamma)

        optimizer_step(
            self.step,
            lambda: member_loss(self.tt, predict(self.tt, self.members, self.rep, "train", sel),
                                "train", sel),
            self.opt, self.guard, self.params,
            norm=self.norm0 if self.cfg.constrain_norm else None,
            on_grad=None if self.decoupled else l2, before_update=rates_and_decay)
        self.step += 1

    @torch.no_grad()
    def measure(self) -> dict[str, np.ndarray]:
        """w, m_hat, residual, losses and accuracies of every run now."""
        train = evaluate(self.tt, self.members, self.rep, "train", self.data)
        test = evaluate(self.tt, self.members, self.rep, "test", self.data)
        if self.rep is not None:
            m_hat, resid = project_on_line(self.rep, self.tt.r_lin, self.tt.r_rand)
        else:  # no representation: m and residual are not applicable, logged as 0
            m_hat = resid = torch.zeros(len(self.runs), dtype=self.dtype, device=self.device)
        out = {
            "w": sq_norm(self.params).sqrt(),
            "m": m_hat,
            "residual": resid,
            "train_loss": train.loss,
            "test_loss": test.loss,
            "train_acc": train.acc,
            "test_acc": test.acc,
        }
        self.guard.mark(self.step, finite_members(out.values()))
        return {k: v.cpu().numpy().astype(np.float64) for k, v in out.items()}

    def state_dict(self) -> dict:
        return {"step": self.step,
                "params": [p.detach().clone() for p in self.members.leaves],
                "rep": None if self.rep is None else self.rep.detach().clone(),
                "opt": self.opt.state_dict(),
                "diverged_step": self.guard.diverged_step.copy()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for p, q in zip(self.members.leaves, state["params"], strict=True):
                p.copy_(q)
            if self.rep is not None:
                self.rep.copy_(state["rep"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        self.guard.load(state.get("diverged_step", np.full(len(self.runs), -1)))


def train_runs(
    task,
    cfg: TrainConfig,
    runs: RunSet,
    *,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    stop_after: int | None = None,
    fingerprint: dict | None = None,
    device: str | torch.device = "cpu",
    path: str = "auto",
) -> dict[str, np.ndarray]:
    """Train every run for ``cfg.steps`` steps; returns logged (run, step) numpy arrays, the
    per-run ``t_overfit``, ``t_grok`` (at the task's grokking threshold,
    `engine.thresholds`), ``status`` (`RunStatus`) and ``diverged_step``.

    ``task`` is a task config (`reduced_dynamics.tasks`); ``device`` "cpu", "cuda" or
    "auto"; ``path`` how the runs are batched (`reduced_dynamics.batching.build`).
    With ``checkpoint``, the state and the log so far are saved every
    ``cfg.checkpoint_every`` steps and at the end (atomically), with the ``fingerprint``
    of the job (default: `training.fingerprint.train_fingerprint` with this process's torch
    threads and the device); ``resume=True`` continues from that file, only if its
    fingerprint is the same (else `InputError` listing each difference), and gives the
    same numbers as an uninterrupted run (from the final checkpoint, e.g. after a failed
    write of the output, it only returns the logs). ``stop_after`` (tests) stops early.
    A diverged run's logs are NaN from its ``diverged_step`` on.
    """
    dev = resolve_device(device)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    saved = None
    if ckpt is not None:
        if fingerprint is None:
            record = device_record(dev)
            fingerprint = train_fingerprint(task, cfg, runs,
                                            torch_threads=torch.get_num_threads(),
                                            device=record["device"],
                                            device_name=record["device_name"])
        if resume and ckpt.exists():
            saved = _load_checkpoint(ckpt, dev)
            check_resume(saved.get("fingerprint"), fingerprint,
                         f"the checkpoint {ckpt} belongs to a different run", ckpt)
    state = BatchedRuns(task, cfg, runs, device=dev, path=path)
    log_steps = cfg.log_steps()
    grok = task_grok_threshold(task)
    logs = {k: np.full((len(runs), log_steps.size), np.nan) for k in LOGGED_VARS}
    if saved is not None:
        state.load_state_dict(saved["state"])
        logs = saved["logs"]
    elif cfg.start == "relaxed":
        state.relax()
    index = {int(s): i for i, s in enumerate(log_steps)}
    if progress is not None and state.step:
        progress(state.step)
    while True:
        if state.step in index and np.isnan(logs["w"][:, index[state.step]]).all():
            for k, v in state.measure().items():
                logs[k][:, index[state.step]] = v
        if state.step >= cfg.steps:
            break
        if stop_after is not None and state.step >= stop_after:
            return _finish(logs, log_steps, state.guard, grok)
        state.advance()
        if progress is not None:
            progress(1)
        if (ckpt is not None and state.step % cfg.checkpoint_every == 0
                and state.step < cfg.steps):
            _save_checkpoint(ckpt, {"state": state.state_dict(), "logs": logs,
                                    "fingerprint": fingerprint})
    if ckpt is not None:  # at step == steps, logged: a resume from here only writes
        try:
            _save_checkpoint(ckpt, {"state": state.state_dict(), "logs": logs,
                                    "fingerprint": fingerprint})
        except WriteError:
            pass  # the output may still fit; if not, resume trains from the previous one
    return _finish(logs, log_steps, state.guard, grok)


def _finish(logs: dict[str, np.ndarray], log_steps: np.ndarray,
            guard: DivergenceGuard, grok: tuple[float, str]) -> dict[str, np.ndarray]:
    """NaN after each run's divergence; event times; ``status`` and ``diverged_step``."""
    logs = {k: v.copy() for k, v in logs.items()}
    after = guard.diverged[:, None] & (log_steps[None, :] >= guard.diverged_step[:, None])
    for k in LOGGED_VARS:
        logs[k][after] = np.nan
    logs["t_overfit"] = first_crossing(log_steps, logs["train_acc"], ACC_THRESHOLD)
    logs["t_grok"] = grok_times(log_steps, logs["test_acc"], logs["test_loss"], *grok)
    logs["status"] = guard.status()
    logs["diverged_step"] = guard.step_or_nan()
    return logs


def _load_checkpoint(path: Path, device: torch.device | None = None) -> dict:
    try:
        saved = torch.load(path, weights_only=False, map_location=device)
    except Exception as exc:  # torch/pickle raise many types for a damaged file
        raise FileCheckError(f"checkpoint {path} could not be read ({type(exc).__name__}: "
                             f"{exc}); delete it to start afresh") from None
    if not isinstance(saved, dict) or not {"state", "logs"} <= set(saved):
        raise FileCheckError(f"checkpoint {path} is not a checkpoint of `train`; delete it "
                             "to start afresh")
    return saved


def _save_checkpoint(path: Path, payload: dict) -> None:
    """Write atomically (`io.atomic.atomic_path`: no temporary file is left behind); a
    failure raises `WriteError` and keeps the previous checkpoint."""
    try:
        with atomic_path(path, needed=needed_bytes(payload), what="checkpoint") as tmp:
            torch.save(payload, tmp)
    except WriteError as exc:
        raise WriteError(f"{exc}; free space (or fix permissions) and rerun with --resume "
                         "to continue from the last checkpoint") from exc
