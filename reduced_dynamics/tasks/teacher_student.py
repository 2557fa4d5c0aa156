"""Teacher–student regression (Omnigrok Section 3, Fig. 2; SPEC §7): config and inputs.

Teacher and student are the same MLP (5–100–100–5, tanh). The teacher is PyTorch's default
init for ``teacher_seed`` (0); a student run or probe restart with seed s starts at the
default init for seed s (SPEC: 1) scaled to norm alpha·w0. Inputs x ~ N(0, I_5), drawn with
numpy from ``data_seed`` (train first, then test); labels are the teacher's outputs
(computed by the torch adapter, `teacher_student_torch`). Loss: MSE. A sample counts as
correct when its squared error, averaged over the outputs, is below ``threshold`` (0.01).

There is no representation coordinate: the landscape is 1-D (dims w only).
Pure numpy: the networks are `reduced_dynamics.models.mlp.MLP`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from reduced_dynamics.checks import (
    check_choice,
    check_int,
    check_ints,
    check_real,
    check_seed,
    check_str,
    plain_fields,
)
from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.errors import InputError
from reduced_dynamics.names import HOMOGENEOUS_ACTIVATIONS, LOSS_MSE
from reduced_dynamics.tasks.base import TaskEntry

ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class TeacherStudentConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "paper"
    d_in: int = 5
    hidden: tuple[int, ...] = (100, 100)
    d_out: int = 5
    activation: str = "tanh"
    n_train: int = 100
    n_test: int = 100
    teacher_seed: int = 0  # the teacher is the default init for this seed
    data_seed: int = 0  # inputs x ~ N(0, I) (numpy default_rng)
    threshold: float = 0.01  # correct: mean over outputs of the squared error < threshold

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_str("preset", self.preset)
        for name in ("d_in", "d_out", "n_train", "n_test"):
            check_int(name, getattr(self, name), 1)
        object.__setattr__(self, "hidden", check_ints(
            "hidden", self.hidden, 1, expected="a non-empty sequence of layer widths, "
            "integers >= 1 (e.g. (200, 200))"))
        check_choice("activation", self.activation, ACTIVATIONS)
        check_seed("teacher_seed", self.teacher_seed)
        check_seed("data_seed", self.data_seed)
        check_real("threshold", self.threshold, low=0.0, low_open=True)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.d_in, *self.hidden, self.d_out)

    @property
    def positively_homogeneous(self) -> bool:
        """A ReLU student is; the paper's tanh student is not (no monotone-in-w test)."""
        return self.activation in HOMOGENEOUS_ACTIVATIONS

    @property
    def loss_name(self) -> str:
        """The loss as files name it: MSE to the teacher's outputs."""
        return LOSS_MSE

    @property
    def theta_description(self) -> str:
        """What θ (whose norm is w) is, as files name it (`teacher_student_torch`)."""
        return "every weight and bias of the student MLP"

    def check_student_seed(self, seed: int) -> int:
        """A student seed must differ from the teacher's: it would start as the teacher."""
        if int(seed) == self.teacher_seed:
            raise InputError(f"student seed {seed} is the teacher's seed (teacher_seed="
                             f"{self.teacher_seed}): the student would start as the teacher "
                             "at alpha = 1; use other seeds, e.g. --seeds 1,2,3")
        return int(seed)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, TeacherStudentConfig] = {"paper": TeacherStudentConfig()}


def preset(name: str = "paper", **overrides) -> TeacherStudentConfig:
    """The named preset, with any fields replaced."""
    return TASK.preset(name, **overrides)


def make_inputs(config: TeacherStudentConfig) -> tuple[np.ndarray, np.ndarray]:
    """(x_train, x_test), standard normal, shapes (n_train, d_in) and (n_test, d_in)."""
    rng = np.random.default_rng(config.data_seed)
    x = rng.standard_normal((config.n_train + config.n_test, config.d_in))
    return x[: config.n_train], x[config.n_train:]


TASK = TaskEntry(
    name="teacher-student",
    description="teacher-student regression, 5-100-100-5 tanh MLPs (Omnigrok Section 3)",
    config_type=TeacherStudentConfig,
    presets=PRESETS,
    adapter="teacher_student_torch:TeacherStudentTorch",
    has_m=False,
    # SPEC §7: Adam lr 3e-4, 10^4 steps with projection.
    probe_presets={"paper": ProbeConfig(steps=10_000, lr=3e-4)},
    # SPEC §7: AdamW lr 3e-4 on the student, 10^5 steps; no representation (eta_r unused).
    train=TrainConfig(steps=100_000, eta_d=3e-4, eta_r=0.0, n_log=300),
    probe_seeds=(1, 2, 3),  # restarts: student inits for seeds 1, 2, 3 (teacher: 0)
    train_seeds=(1,),  # SPEC §7: the student is seed 1
    alpha0=(2.0,),
    gammas=tuple(np.geomspace(0.03, 1.0, 8)),  # SPEC §7: the sweep of Fig. 2c
    first_seed=1,  # seed 0 is the teacher: `--seeds 3` means students 1, 2, 3
)
