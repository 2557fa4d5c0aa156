"""Torch adapter of the teacher–student task (SPEC §7): fixed inputs, teacher labels."""

from __future__ import annotations

import torch

from reduced_dynamics.models import batched_mlp as bm
from reduced_dynamics.tasks.teacher_student import TeacherStudentConfig, make_inputs


class TeacherStudentTorch:
    """Inputs x ~ N(0, I) and the teacher's outputs on them; no representation (m)."""

    has_m = False
    r_lin = None
    r_rand = None

    def __init__(self, config: TeacherStudentConfig, dtype: torch.dtype) -> None:
        self.config = config
        self.layer_sizes = config.layer_sizes
        self.activation = config.activation
        self.negative_slope = config.negative_slope
        self.teacher = bm.default_init(config.layer_sizes, config.teacher_seed)  # float64
        x_train, x_test = make_inputs(config)
        self.x, self.y = {}, {}
        for split, x in (("train", x_train), ("test", x_test)):
            x64 = torch.as_tensor(x, dtype=torch.float64)
            with torch.no_grad():
                y = bm.forward([p[None] for p in self.teacher], x64[None], self.activation)[0]
            self.x[split] = x64.to(dtype)
            self.y[split] = y.to(dtype)

    def init_params(self, seed: int) -> bm.Params:
        """The student at PyTorch's default init for ``seed`` (not the teacher's seed)."""
        return bm.default_init(self.layer_sizes, self.config.check_student_seed(seed))

    def representation(self, m: torch.Tensor | None = None) -> None:
        return None

    def inputs(self, rep: None, split: str, batch: int | None = None) -> torch.Tensor:
        """The fixed inputs of ``split`` for ``batch`` members, ``(B, n, d_in)`` (a view)."""
        x = self.x[split]
        return x.expand(batch or 1, *x.shape)

    def sq_error(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Squared error per sample, mean over the outputs, ``(B, n)``."""
        return (pred - self.y[split]).pow(2).mean(-1)

    def loss(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Per-member MSE to the teacher's outputs, shape (B,)."""
        return self.sq_error(pred, split).mean(1)

    def accuracy(self, pred: torch.Tensor, split: str) -> torch.Tensor:
        """Fraction of samples with squared error (mean over outputs) < threshold, (B,)."""
        return (self.sq_error(pred, split) < self.config.threshold).to(pred.dtype).mean(1)
