"""Molecules (Omnigrok Section 4, Fig. 5; SPEC §8): a graph network on QM9's isotropic
polarizability. Config, presets and the task entry; torch-free.

Data (`molecule_data`): QM9 from the ``qm9pack`` package, graphs from SMILES with rdkit
(hydrogens added; 11 node and 4 edge features as torch-geometric's QM9), the first
``n_molecules`` of one seeded permutation split 50/50 into a training pool and a test set,
the target standardised with the pool's mean and deviation. The training set is the first
``n_train`` of the pool; the n_train axis of a landscape, and runs at smaller N, use nested
subsets of it. Model (`reduced_dynamics.models.gcnn`): torch-geometric's NNConv 11→32 and
32→16 (edge networks: one linear layer from the 4 bond features), ReLU, add-pool, then
16→32→1. Loss MSE on the standardised target. θ is every parameter.

Grokking is on the test loss (SPEC §12, regression): t_grok is the first step with test
loss ≤ ``grok_threshold``. A molecule counts as "correct" (the accuracies, and t_overfit's
95 % rule) when its absolute error is below ``acc_tolerance`` standard deviations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

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
from reduced_dynamics.names import LOSS_MSE
from reduced_dynamics.tasks.base import TaskEntry
from reduced_dynamics.tasks.molecule_data import QM9_SIZE


@dataclass(frozen=True)
class MoleculesConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "qm9"
    n_molecules: int | None = None  # the first n of a seeded permutation (None: all 130 831)
    n_train: int = 10_000  # the training set; smaller N are nested subsets of it
    n_test: int | None = None  # keep the first n_test of the held-out half (None: all)
    data_seed: int = 0  # the permutation (selection, split and subsets)
    conv: tuple[int, ...] = (32, 16)  # NNConv widths
    readout: int = 32  # the hidden layer after the add-pool
    acc_tolerance: float = 0.5  # "correct": |error| < this many standard deviations
    grok_on: str = "loss"  # regression: grokking is test loss <= grok_threshold
    # SPEC §12: chosen from the qm9-cpu alpha = 1 run at N = 200 (README, "Molecules": its
    # test loss, minimum 0.35, ends at 0.42-0.44); not measured on the full `qm9` preset.
    grok_threshold: float = 0.5

    def __post_init__(self) -> None:
        plain_fields(self)
        check_str("preset", self.preset)
        if self.n_molecules is not None:
            check_int("n_molecules", self.n_molecules, 2, QM9_SIZE)
        check_int("n_train", self.n_train, 1)
        pool = (QM9_SIZE if self.n_molecules is None else self.n_molecules) // 2
        if self.n_train > pool:
            raise InputError(f"`n_train` must be at most the training pool, half of "
                             f"n_molecules = {self.n_molecules or QM9_SIZE} ({pool}), got "
                             f"{self.n_train}; lower n_train or raise n_molecules")
        if self.n_test is not None:
            check_int("n_test", self.n_test, 1)
            held = (QM9_SIZE if self.n_molecules is None else self.n_molecules) - pool
            if self.n_test > held:
                raise InputError(f"`n_test` must be at most the held-out half of "
                                 f"n_molecules ({held}), got {self.n_test}; lower it or "
                                 "give None (all of them)")
        check_seed("data_seed", self.data_seed)
        object.__setattr__(self, "conv", check_ints(
            "conv", self.conv, 1, expected="a non-empty sequence of NNConv widths, integers "
            ">= 1 (e.g. (32, 16))"))
        check_int("readout", self.readout, 1)
        check_real("acc_tolerance", self.acc_tolerance, low=0.0, low_open=True,
                   expected="a tolerance > 0 in standard deviations of the target (e.g. 0.5)")
        check_choice("grok_on", self.grok_on, ("loss",))
        check_real("grok_threshold", self.grok_threshold, low=0.0, low_open=True,
                   expected="a test loss > 0 (MSE on the standardised target, e.g. 0.5)")

    @property
    def positively_homogeneous(self) -> bool:
        """NNConv's edge networks multiply weights by weights: not homogeneous."""
        return False

    @property
    def loss_name(self) -> str:
        return LOSS_MSE

    @property
    def theta_description(self) -> str:
        return "every parameter of the graph network (NNConv layers, edge networks, readout)"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, MoleculesConfig] = {
    # The paper's setup: all of QM9 split 50/50; N up to 10^4 for the landscape (SPEC §8).
    "qm9": MoleculesConfig(),
    # CPU-sized: 4 000 molecules (2 000 in the pool), the first 500 held-out ones as the
    # test set (README, "Molecules", for what it shows and how long it takes).
    "qm9-cpu": MoleculesConfig(preset="qm9-cpu", n_molecules=4_000, n_train=2_000,
                               n_test=500),
    # A handful of molecules for the tests (seconds).
    "qm9-tiny": MoleculesConfig(preset="qm9-tiny", n_molecules=40, n_train=20, n_test=12,
                                conv=(8, 4), readout=8),
}

# SPEC §8: Adam 1e-3, batch 32, MSE; no weight decay in Fig. 5d (gamma = 0 is Adam).
PROBE = ProbeConfig(steps=10_000, lr=1e-3, batch_size=32)
TASK = TaskEntry(
    name="molecules",
    description="a graph network (NNConv) on QM9 polarizability (Omnigrok Section 4, Fig. 5)",
    config_type=MoleculesConfig,
    presets=PRESETS,
    adapter="molecules_torch:MoleculesTorch",
    has_m=False,
    probe_presets={"qm9": PROBE, "qm9-cpu": dataclasses.replace(PROBE, steps=2_000),
                   "qm9-tiny": dataclasses.replace(PROBE, steps=20, batch_size=8)},
    train=TrainConfig(steps=100_000, eta_d=1e-3, eta_r=0.0, n_log=200, batch_size=32),
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(3.0, 1.0),
    gammas=(0.0,),
)


def preset(name: str = "qm9", **overrides) -> MoleculesConfig:
    """The named preset, with any fields replaced."""
    return TASK.preset(name, **overrides)
