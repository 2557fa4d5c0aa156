"""Image data (SPEC §8): IDX reading, digits split, standardisation, nested subsets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from reduced_dynamics.errors import InputError
from reduced_dynamics.tasks.image_data import (
    IDX_FILES,
    linear_representation,
    load_images,
    raw_images,
    read_idx,
)


def _write_idx(path, array: np.ndarray, compress: bool) -> None:
    code = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    data = header + array.tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture()
def idx_folder(tmp_path):
    rng = np.random.default_rng(3)
    arrays = {
        "train_images": rng.integers(0, 256, (40, 4, 5)).astype("u1"),
        "train_labels": rng.integers(0, 3, 40).astype("u1"),
        "test_images": rng.integers(0, 256, (10, 4, 5)).astype("u1"),
        "test_labels": rng.integers(0, 3, 10).astype("u1"),
    }
    for k, (key, stem) in enumerate(IDX_FILES.items()):
        compress = k % 2 == 0
        _write_idx(tmp_path / (stem + (".gz" if compress else "")), arrays[key], compress)
    return tmp_path, arrays


def test_read_idx_round_trip(idx_folder):
    folder, arrays = idx_folder
    x_tr, y_tr, x_te, y_te = raw_images(f"idx:{folder}")
    np.testing.assert_array_equal(x_tr, arrays["train_images"])
    np.testing.assert_array_equal(y_tr, arrays["train_labels"])
    np.testing.assert_array_equal(x_te, arrays["test_images"])
    np.testing.assert_array_equal(y_te, arrays["test_labels"])
    a = np.arange(6, dtype=">i4").reshape(2, 3)
    _write_idx(folder / "ints", a, compress=False)
    np.testing.assert_array_equal(read_idx(folder / "ints"), a)


def test_idx_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(InputError, match="truncated"):
        read_idx(short)
    with pytest.raises(InputError, match="not a folder"):
        raw_images(f"idx:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="train-images-idx3-ubyte"):
        raw_images(f"idx:{tmp_path / 'empty'}")
    with pytest.raises(InputError, match="digits"):
        raw_images("mnist")


def test_digits_split_standardised_and_nested():
    data = load_images("digits", test_size=297)
    assert data.x_train.shape == (1500, 64) and data.x_test.shape == (297, 64)
    assert data.image_shape == (8, 8) and data.n_classes == 10
    assert abs(data.x_train.mean()) < 1e-12 and abs(data.x_train.std() - 1) < 1e-12
    small, large = data.subset(100), data.subset(1000)
    assert set(small) <= set(large) and len(set(large)) == 1000
    # the inputs do not depend on N, and the split on nothing but its seed
    again = load_images("digits", test_size=297, subset_seed=5)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    assert not np.array_equal(again.order, data.order)
    with pytest.raises(InputError, match="n_train"):
        data.subset(1501)


def test_linear_representation_is_a_per_class_constant():
    r = linear_representation(np.array([0, 9, 4]), 10, 64)
    assert r.shape == (3, 64)
    np.testing.assert_allclose(r[:, 0], [-0.5, 0.5, np.linspace(-0.5, 0.5, 10)[4]])
    assert np.all(r == r[:, :1])
