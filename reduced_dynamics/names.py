"""Names shared by every part of the package (torch-free): thresholds, variable names with
their long names and units, and the status codes stored in files.

One place for what files, tables, the engine and the CLI must agree on; change a name or a
threshold here and every writer, checker and default follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np

# ------------------------------------------------------------------------------ thresholds
ACC_THRESHOLD = 0.95
"""Accuracy threshold of the events (SPEC §4, §6): overfit = train_acc ≥ 0.95 (measured
runs), grok = test_acc ≥ 0.95, unless a task stores its own ``grok_threshold``."""

BOUNDARY_LOSS = 0.05
"""Boundary contour l̃_train = 0.05 (SPEC §4/§5): the overfit event of the reduced dynamics
(``theta_train``) and the contour drawn on landscape plots."""

DATASIZE_LOSS = 0.02
"""Fig. 6e's contour l̃_train = 0.02 (SPEC §14): the boundary, and the overfit event, of
`reduced_dynamics.datasize` (the ``datasize`` command)."""

SLIDE_ENDS = ("stationary", "m_min_edge", "m_max_edge", "w_min_edge", "w_max_edge",
              "closed_loop", "no_contact")
"""How the slide along the boundary contour ends (`engine.boundary.slide`): at a stationary
point (u has a local minimum along the contour), on an edge of the grid (w_min: it leaves
the grid), round a closed loop, or never starts (the path's m line meets no contour)."""

ANCHOR_FROM = ("C", "m_C", "m_start", "none")
"""Where the slide's anchor D' comes from (`reduced_dynamics.datasize`): below the path's C
on the line m = m_C; from the top of the grid on m = m_C (C not in region II); from the top
on the start's m (the path has no C); nowhere (no contour on those lines)."""

# ------------------------------------------------------------------------------- landscape
REQUIRED_LANDSCAPE_VARS = ("train_loss", "test_loss", "train_acc", "test_acc", "dtrain_dw",
                           "converged", "tangent_grad_ratio")
"""Variables every landscape file holds (plus ``dtrain_dm`` when it has an m axis)."""

PROBE_VARS = ("train_loss", "test_loss", "train_acc", "test_acc", "dtrain_dw", "dtrain_dm",
              "converged", "tangent_grad_ratio", "loss_rel_change", "status", "diverged_step")
"""What the probe measures per grid point and restart (``dtrain_dm`` only with m)."""

LANDSCAPE_DIMS = ("w", "m", "seed", "n_train")
STATE_DIMS = ("w", "m")
"""State axes: evolved by the reduced dynamics (Eq. 6)."""
PARAMETER_DIMS = ("n_train",)
"""Parameter axes (SPEC §11): fixed for a run, selected before integrating."""

# ------------------------------------------------------------------------------ long names
LOSS_MSE = "MSE"
LOSS_CROSS_ENTROPY = "cross-entropy"
"""What a task config's ``loss_name`` returns: the loss as files name it."""

UNNAMED_LOSS = "the task's loss"
UNNAMED_THETA = "the task's norm group (its torch adapter's theta_names)"
"""Filled into the templates for a task whose config names no loss or θ (a third-party
task without ``loss_name`` / ``theta_description``)."""

W_LONG_NAME = "weight norm w = ||theta||_2, theta: {theta}"
"""Long name of ``w`` in every file: ``{theta}`` is the task config's ``theta_description``."""


def long_name_of(meta: Mapping[str, tuple[str, str]], name: str, *, loss: str | None = None,
                 theta: str | None = None) -> tuple[str, str]:
    """(long_name, units) of ``name`` in a ``*_META`` table, its ``{loss}`` and ``{theta}``
    filled with the task's loss name and θ description (`UNNAMED_LOSS`, `UNNAMED_THETA`
    where None); a name not in the table gets (``name``, "1")."""
    long_name, units = meta.get(name, (name, "1"))
    return long_name.format(loss=loss or UNNAMED_LOSS, theta=theta or UNNAMED_THETA), units


LANDSCAPE_COORD_META = {
    "w": (W_LONG_NAME, "1"),
    "m": ("representation messiness m in R = m R_random + (1-m) R_linear", "1"),
    "alpha": ("w / w0", "1"),
    "n_train": ("training-set size N (nested subsets drawn with one seed)", "1"),
    "seed": ("init seed of a probe restart (its default init, scaled to norm w)", "1"),
}
"""(long_name, units) of the landscape coordinates (templates: `long_name_of`)."""

LANDSCAPE_VAR_META = {
    "train_loss": ("reduced training loss l~_train ({loss})", "1"),
    "test_loss": ("reduced test loss l~_test ({loss})", "1"),
    "train_acc": ("training accuracy at the constrained minimum", "1"),
    "test_acc": ("test accuracy at the constrained minimum", "1"),
    "dtrain_dw": ("envelope derivative d l~_train / d w = theta_hat . grad l_train", "1"),
    "dtrain_dm": ("envelope derivative d l~_train / d m at fixed theta", "1"),
    "converged": ("constrained minimisation converged (see config_json probe tolerances)", "1"),
    "tangent_grad_ratio": ("|tangential gradient| / |gradient| at the end", "1"),
    "loss_rel_change": ("relative change of l_train over the last 10 % of steps", "1"),
    "best_seed": ("index along `seed` of the restart with the lowest train_loss", "1"),
    "status": ("outcome of the probe (diverged: overflowed at diverged_step; values NaN, not "
               "converged; reduced: every restart diverged)", "1"),
    "diverged_step": ("first step with a non-finite loss, gradient or result (NaN: never)",
                      "steps"),
    "probe_start": ("start of the kept minimiser: 0 the scaled init, 1 continued from the "
                    "next smaller w, 2 that lift itself (the other variables belong to it)", "1"),
    "scaled_init_train_loss": ("l~_train of the probe from the scaled init ({loss})", "1"),
    "scaled_init_test_loss": ("test loss of the probe from the scaled init ({loss})", "1"),
}
"""(long_name, units) of the landscape variables (``*_by_seed`` share their variable's;
templates: `long_name_of`)."""

# ---------------------------------------------------------------------------- trajectories
LOGGED_VARS = ("w", "m", "residual", "train_loss", "test_loss", "train_acc", "test_acc")
"""What a training run logs at every logged step."""

EVENT_VARS = ("t_overfit", "t_grok")
TRAJECTORY_VARS = (*LOGGED_VARS, *EVENT_VARS)
"""Variables every trajectory file holds."""

TRAJECTORY_VAR_META = {
    "w": (W_LONG_NAME, "1"),
    "m": ("least-squares messiness m_hat of the representation (SPEC §6)", "1"),
    "residual": ("|R - R(m_hat)| / |R_random - R_linear|: distance from the 2-D reduction", "1"),
    "train_loss": ("training loss ({loss}, without weight decay)", "1"),
    "test_loss": ("test loss ({loss})", "1"),
    "train_acc": ("training accuracy", "1"),
    "test_acc": ("test accuracy", "1"),
    "t_overfit": (f"first logged step with train_acc >= {ACC_THRESHOLD} (NaN: never)", "steps"),
    "t_grok": (f"first logged step with test_acc >= {ACC_THRESHOLD} (NaN: never)", "steps"),
    "status": ("outcome of the run (diverged: logged values are NaN from diverged_step on)",
               "1"),
    "diverged_step": ("first step with a non-finite loss, gradient or logged value (NaN: "
                      "never)", "steps"),
}
"""(long_name, units) of the trajectory variables (templates: `long_name_of`)."""

TRAJECTORY_COORD_META = {
    "run": ("index of the run in the file", "1"),
    "step": ("optimiser step", "steps"),
    "gamma": ("weight decay gamma on theta (see config_json train.optimizer)", "1"),
    "eta_d": ("learning rate eta_d of theta", "1"),
    "eta_r": ("learning rate eta_r of the representation (outside theta)", "1"),
    "seed": ("init seed of the run (its default init, scaled to alpha0 w0)", "1"),
    "alpha0": ("initial w / w0", "1"),
    "m0": ("initial messiness m", "1"),
    "n_train": ("training-set size N of the run (nested subsets drawn with one seed)", "1"),
}
"""(long_name, units) of the trajectory coordinates: ``step`` and the per-run ones."""

NOT_APPLICABLE = "not applicable (task has no representation coordinate); stored as 0"
"""Long name of ``m``, ``residual`` and ``m0`` in trajectory files of a task without m."""


# ------------------------------------------------------------------- validation reports
VALIDATION_VAR_META = {
    "t_overfit_measured": ("t_overfit of the run (first logged step with train_acc >= "
                           f"{ACC_THRESHOLD})", "steps"),
    "t_overfit_predicted": ("t_overfit of the reduced dynamics from the prediction's start",
                            "steps"),
    "t_overfit_ratio": ("predicted / measured t_overfit", "1"),
    "t_grok_measured": ("t_grok of the run (the threshold in the `events` attribute)",
                        "steps"),
    "t_grok_predicted": ("t_grok of the reduced dynamics from the prediction's start",
                         "steps"),
    "alpha_point": ("alpha of the points A, B, C, D, E of the path (SPEC 5; dim point)",
                    "1"),
    "m_point": ("m of the points A, B, C, D, E of the path", "1"),
    "t_grok_ratio": ("predicted / measured t_grok", "1"),
    "path_distance": ("RMS distance between predicted and measured (ln w, m) paths", "1"),
    "plateau_rate": ("fitted k in w ~ exp(-k t) between t_overfit and t_grok", "1/steps"),
    "eta_d_gamma": ("eta_d gamma (the decay rate of w by weight decay alone)", "1/steps"),
    "t_start": ("step the prediction starts from (see the `start` attribute)", "steps"),
    "alpha_start": ("w / w0 the prediction starts from", "1"),
    "eta_r_ode": ("eta_R of the reduced dynamics: the run's eta_r / eta_r_ode_divisor "
                  "(SPEC 13, see the `eta_r_conversion` attribute)", "1"),
    "max_residual": ("largest off-line residual of the representation along the run", "1"),
    "status_predicted": ("status of the predicted path (diverged: the run diverged, nothing "
                         "predicted)", "1"),
    "w_measured": ("w of the run at the logged steps", "1"),
    "m_measured": ("m_hat of the run at the logged steps", "1"),
    "w_predicted": ("w of the predicted path at the logged steps", "1"),
    "m_predicted": ("m of the predicted path at the logged steps", "1"),
}
"""(long_name, units) of the variables of a validation report (`reduced_dynamics.validate`);
its coordinates are the runs' (`TRAJECTORY_COORD_META`)."""


# ----------------------------------------------------------------- data-size (Fig. 6e) files
DATASIZE_VAR_META = {
    "connects": ("the slide along the boundary contour reaches the generalising region G_N",
                 "1"),
    "connect_alpha": ("alpha = w/w0 of the first point of the slide inside G_N", "1"),
    "connect_m": ("m of the first point of the slide inside G_N", "1"),
    "anchor_alpha": ("alpha of D': the contour point below C on the line m = m_C", "1"),
    "anchor_m": ("m of D' (m_C of the path drawn, at path_gamma)", "1"),
    "anchor_from": ("where D' comes from: " + ", ".join(ANCHOR_FROM), "1"),
    "slide_end": ("how the slide ends: " + ", ".join(SLIDE_ENDS), "1"),
    "slide_end_alpha": ("alpha where the slide ends", "1"),
    "slide_end_m": ("m where the slide ends", "1"),
    "slide_theta": ("angle of the slide's chord D' -> end to the -ln w direction (the "
                    "contour's slope theta_N)", "rad"),
    "star_alpha": ("alpha of the star: the lowest l~_test on the grid inside G_N", "1"),
    "star_m": ("m of the star", "1"),
    "star_test_loss": ("l~_test at the star", "1"),
    "star_test_acc": ("reduced test accuracy at the star", "1"),
    "best_test": ("best reduced test accuracy (or lowest test loss, grok_on = loss) on the "
                  "grid", "1"),
    "region_fraction": ("share of the (ln w, m) grid inside G_N", "1"),
    "never_grok": ("the reduced path groks at no gamma", "1"),
    "agrees": ("connects equals 'the path at path_gamma groks'", "1"),
    "t_overfit": ("first time l~_train <= theta_train", "steps"),
    "t_grok": ("first time the path is inside G_N (the grok event)", "steps"),
    "delay": ("t_grok - t_overfit", "steps"),
    "t_closed": ("ln(w_C / w_c) / (eta_d gamma), from point C", "steps"),
    "t_geometric": ("(L + h tan theta) / (eta_d gamma), from point C", "steps"),
    "w_c": ("contour l~_train = theta_train on m = m_C", "1"),
    "L": ("ln w_C - ln w_E' (E' on the contour at m_E)", "1"),
    "h": ("m_C - m_E", "1"),
    "theta": ("angle of the boundary segment D'E' to the -ln w direction", "rad"),
    "t_C": ("time of point C (end of the fast phase)", "steps"),
    "status": ("how the reduced path ended", "1"),
    "alpha_point": ("alpha of the points A, B, C, D, E of the path (SPEC 5; dim point)",
                    "1"),
    "m_point": ("m of the points A, B, C, D, E of the path", "1"),
    "t_grok_ratio": ("t_grok at the largest N / t_grok at the next smaller N", "1"),
    "contour_alpha": ("alpha of the contour l~_train = theta_train: its lines in order, one "
                      "NaN between lines, NaN-padded", "1"),
    "contour_m": ("m of the contour points (as contour_alpha)", "1"),
    "slide_alpha": ("alpha of the slide from D' to its end (NaN-padded)", "1"),
    "slide_m": ("m of the slide points (NaN-padded)", "1"),
    "region_alpha": ("alpha of the edge of G_N (lines as contour_alpha)", "1"),
    "region_m": ("m of the edge of G_N", "1"),
    "path_alpha": ("alpha along the reduced path at path_gamma (NaN-padded)", "1"),
    "path_m": ("m along the reduced path at path_gamma (NaN-padded)", "1"),
}
"""(long_name, units) of the variables of a data-size file (`reduced_dynamics.datasize`)."""

REQUIRED_DATASIZE_VARS = tuple(DATASIZE_VAR_META)
DATASIZE_POINT_DIMS = {"contour": "contour_point", "slide": "slide_point",
                       "region": "region_point", "path": "path_point"}
"""The padded point dims of a data-size file, per kind of line."""

# ------------------------------------------------------------------- phase diagrams (§15)
PHASE_T = 1e5
PHASE_TAU = 1e3
"""The phase rule's defaults (SPEC §15): step budget T and gap threshold τ, in steps."""

PHASE_AXES = ("eta_d", "gamma", "alpha0", "m0", "n_train")
"""The parameters a phase diagram may run over (two of them; dims named after them)."""

PHASE_LOG_AXES = ("eta_d", "alpha0")
"""Grid axes drawn on a log axis (rates and scales, > 0)."""

PHASE_DIAGRAMS = ("predicted", "measured")
"""What a phase diagram classifies: reduced-dynamics paths, or full training runs."""

PHASE_AXIS_META = {
    "eta_d": ("decoder learning rate eta_D", "1"),
    "gamma": ("weight decay gamma", "1"),
    "alpha0": ("initial w / w0", "1"),
    "m0": ("initial messiness m", "1"),
    "n_train": ("training-set size N", "1"),
}
"""(long_name, units) of the grid coordinates of a phase-diagram file."""

PHASE_VAR_META = {
    "phase": ("phase (SPEC 15): comprehension, grokking, memorisation or confusion", "1"),
    "t_train": ("first step with train accuracy >= train_threshold (NaN: not within T)",
                "steps"),
    "t_test": ("first step with the test event (test_threshold; NaN: not within T)", "steps"),
    "path_status": ("how the reduced path ended (integrated up to T)", "1"),
    "phase_count": ("runs of the cell in each phase (seeds)", "1"),
}
"""(long_name, units) of the variables of a phase-diagram file (`reduced_dynamics.phases`)."""


# ---------------------------------------------------------------------------- status codes
class RunStatus(IntEnum):
    """Outcome of a training run or a probe point (restart): the ``status`` variable.

    DIVERGED: its loss, a gradient or a logged value overflowed (inf/NaN) at step
    ``diverged_step``; it was frozen there, every value from that step on is NaN, and the
    other members of its batch went on exactly as they would have without it.
    """

    OK = 0
    DIVERGED = 1


class ProbeStart(IntEnum):
    """Where a point's constrained minimisation started: the ``probe_start`` variable of a
    landscape re-probed by continuation in w (`landscape.continuation`)."""

    SCALED_INIT = 0  # the scaled default init (the plain probe)
    CONTINUED = 1  # the lifted minimiser of the next smaller w, then minimised
    LIFTED = 2  # that lift itself: minimising from it only raised the loss (not converged)


CONTINUATION_DEFAULTS = {"steps": 3000, "lr": 1e-3}
"""Adam steps per point and stage, and the plain learning rate, of the continuation in w."""


class PathStatus(IntEnum):
    """How an integrated path of the reduced dynamics ended: the ``status_code`` variable of
    a prediction; ``status`` holds the lower-case name (`PATH_STATUS_NAMES`).

    OK: reached t_max, a stationary point or (with ``stop_at_grok``) grokking; LEFT_DOMAIN:
    left the landscape's grid; MAX_STEPS: step budget spent or the step size underflowed;
    NO_GROK_BEFORE_T_MAX: ended without the grok event; OVERFLOW: a non-finite state or
    right-hand side.
    """

    OK = 0
    LEFT_DOMAIN = 1
    MAX_STEPS = 2
    NO_GROK_BEFORE_T_MAX = 3
    OVERFLOW = 4


SOLVER_METHODS = ("dopri5", "rosenbrock")
"""The integrator's steppers (`engine.options.SolverOptions.method`): the explicit
Dormand–Prince 5(4) or the L-stable Rosenbrock 4(3)."""
PATH_STATUS_NAMES = tuple(s.name.lower() for s in PathStatus)
"""The strings written to prediction files and tables, indexed by `PathStatus` code."""


class Phase(IntEnum):
    """A run's phase (SPEC §15, Liu et al. 2022) with step budget T and gap τ, from
    t_train and t_test (the first steps with train and test accuracy at the thresholds):
    COMPREHENSION both within T and t_test − t_train < τ (or test within T, train not);
    GROKKING both within T, gap ≥ τ; MEMORISATION train within T, test not; CONFUSION
    neither. The ``phase`` variable of a phase-diagram file (`flag_attrs(Phase)`)."""

    COMPREHENSION = 0
    GROKKING = 1
    MEMORISATION = 2
    CONFUSION = 3


PHASE_NAMES = tuple(p.name.lower() for p in Phase)
"""The phase names, indexed by `Phase` code (the ``flag_meanings``)."""


def flag_attrs(codes: type[IntEnum] = RunStatus) -> dict:
    """CF-1.8 flag attributes of an integer status variable (``flag_values`` is int8, the
    dtype the variable is stored with)."""
    return {"flag_values": np.array([int(c) for c in codes], np.int8),
            "flag_meanings": " ".join(c.name.lower() for c in codes)}


HOMOGENEOUS_ACTIVATIONS = ("relu", "leaky_relu")
PRESET_STUDY_FIELDS = ("alpha0", "m0", "gammas", "train", "train_seeds")
"""The study defaults of a `TaskEntry` that a preset may set for itself (`preset_studies`)."""
"""Activations that make an MLP positively homogeneous in each layer's weights: a task config
with one of them says ``positively_homogeneous``, and the probe then also requires its train
loss not to rise with w (the monotone convergence test of `reduced_dynamics.landscape.sweep`)."""


REPORT_CSV, REPORT_NC = "validation.csv", "validation.nc"
REPORT_GAMMA_FIGURE, REPORT_PATHS_FIGURE = "t_grok_vs_gamma.png", "paths.png"
REPORT_FILES = (REPORT_CSV, REPORT_NC, REPORT_GAMMA_FIGURE, REPORT_PATHS_FIGURE)
"""The files `validate` writes into its report folder (and refuses to replace unasked)."""
