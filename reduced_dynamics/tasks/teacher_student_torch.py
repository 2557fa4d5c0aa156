"""Torch adapter of the teacher–student task (SPEC §7): fixed inputs, teacher labels.

θ is every weight and bias of the student (the module). Subset rule: n_train = N uses the
first N training inputs in one permutation drawn with ``data_seed``.
"""

from __future__ import annotations

import torch

from reduced_dynamics.batching import mlp_bmm as bm
from reduced_dynamics.batching.stacking import init_at_seed
from reduced_dynamics.models.mlp import MLP
from reduced_dynamics.tasks.base import TorchTask, example_mean
from reduced_dynamics.tasks.teacher_student import TeacherStudentConfig, make_inputs


class TeacherStudentTorch(TorchTask):
    """Inputs x ~ N(0, I) and the teacher's outputs on them; no representation (m)."""

    vectorized = True  # every method below also takes a leading member axis

    def __init__(self, config: TeacherStudentConfig, dtype: torch.dtype | None = None,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(config, dtype, device)
        self.layer_sizes = config.layer_sizes
        self.activation = config.activation
        teacher = init_at_seed(self.new_module, config.teacher_seed)
        self.teacher = [p.double() for p in bm.linear_params(teacher)]
        x_train, x_test = make_inputs(config)
        self.x, self.y = {}, {}
        for split, x in (("train", x_train), ("test", x_test)):
            x64 = torch.as_tensor(x, dtype=torch.float64)
            with torch.no_grad():  # labels in float64, then stored in the run's dtype
                y = bm.forward([p[None] for p in self.teacher], x64[None], self.activation)[0]
            self.x[split] = self.tensor(x64)
            self.y[split] = self.tensor(y)
        self.subset_seed = config.data_seed

    def new_module(self) -> MLP:
        """The student (and teacher) network, 5–100–100–5 tanh."""
        return MLP(self.layer_sizes, self.activation)

    def check_seed(self, seed: int) -> int:
        """The student may not start as the teacher (seed ``teacher_seed``)."""
        return self.config.check_student_seed(seed)

    def n_examples(self, split: str) -> int:
        return len(self.x[split])

    def inputs(self, rep: None, split: str, index: torch.Tensor | None = None
               ) -> torch.Tensor:
        """The fixed inputs of ``split`` (``index`` of them), ``(n, d_in)``."""
        return self.x[split] if index is None else self.x[split][index]

    def sq_error(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Squared error per sample, mean over the outputs, ``(..., n)``."""
        y = self.y[split] if index is None else self.y[split][index]
        return (pred - y).pow(2).mean(-1)

    def loss(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """MSE to the teacher's outputs."""
        return example_mean(self.sq_error(pred, split, index), weight)

    def accuracy(self, pred: torch.Tensor, split: str, index: torch.Tensor | None = None,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
        """Fraction of samples with squared error (mean over outputs) < threshold."""
        ok = (self.sq_error(pred, split, index) < self.config.threshold).to(pred.dtype)
        return example_mean(ok, weight)
