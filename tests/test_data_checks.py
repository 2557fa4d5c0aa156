"""Data sets checked on load (issue 18, item 5): an ``idx:`` folder of the images task with
negative or fractional labels, test images of another size, no images, constant training
images or NaN/inf pixels gives one `InputError` naming the file and the problem (the CLI:
one ``error:`` line, exit status 2) instead of a torch traceback or a landscape of NaN;
good data loads as before."""

from __future__ import annotations

import contextlib
import gzip
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reduced_dynamics.errors import InputError
from reduced_dynamics.tasks.image_data import IDX_FILES, load_images

CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B,
         np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
SHAPE = (4, 5)  # pixels of the good images
N_TRAIN, N_TEST = 40, 10
SPLIT_STEM = {"train": "train", "test": "t10k"}  # how the IDX files name a split


def write_idx(path: Path, array: np.ndarray, compress: bool) -> Path:
    """One MNIST-format IDX file (gzip-compressed with ``compress``, named ``.gz``)."""
    header = bytes([0, 0, CODES[array.dtype], array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    data = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def good_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (N_TRAIN, *SHAPE)).astype("u1"),
        "train_labels": rng.integers(0, 3, N_TRAIN).astype("u1"),
        "test_images": rng.integers(0, 256, (N_TEST, *SHAPE)).astype("u1"),
        "test_labels": rng.integers(0, 3, N_TEST).astype("u1"),
    }


def write_folder(folder: Path, arrays: dict[str, np.ndarray], compress: bool
                 ) -> dict[str, Path]:
    """The four IDX files of ``arrays`` in ``folder``; their paths by key."""
    return {key: write_idx(folder / stem, arrays[key], compress)
            for key, stem in IDX_FILES.items()}


# ------------------------------------------------------------------------ the defects
def negative_label(a, split, k, rng):
    labels = a[f"{split}_labels"].astype(rng.choice(["i1", ">i2", ">i4"]))
    labels[k % len(labels)] = -int(rng.integers(1, 100))
    a[f"{split}_labels"] = labels
    return f"{split}_labels", "labels must be class indices (integers >= 0)"


def fractional_label(a, split, k, rng):
    labels = a[f"{split}_labels"].astype(">f4")
    labels[k % len(labels)] = rng.choice([0.5, 1.25, np.nan, np.inf])
    a[f"{split}_labels"] = labels
    return f"{split}_labels", "labels must be class indices (integers >= 0)"


def other_size(a, split, k, rng):
    h, w = SHAPE
    shape = [(h + 1 + k % 3, w), (h, w - 1 - k % 3), (w, h), (h * w,)][k % 4]
    a["test_images"] = rng.integers(0, 256, (N_TEST, *shape)).astype("u1")
    return "test_images", "the test images are"


def no_images(a, split, k, rng):
    a[f"{split}_images"] = np.zeros((0, *SHAPE), "u1")
    a[f"{split}_labels"] = np.zeros(0, "u1")
    what = "training" if split == "train" else "test"
    return f"{split}_images", f"holds no {what} images"


def constant_images(a, split, k, rng):
    value = rng.choice([0, 7, 255, 0.25])
    dtype = ">f4" if value == 0.25 else "u1"
    a["train_images"] = np.full((N_TRAIN, *SHAPE), value, dtype)
    return "train_images", "standard deviation, which would be 0"


def bad_pixel(a, split, k, rng):
    x = a[f"{split}_images"].astype(rng.choice([">f4", ">f8"]))
    n = len(x)
    x[k % n, k % SHAPE[0], (k // 7) % SHAPE[1]] = rng.choice([np.nan, np.inf, -np.inf])
    a[f"{split}_images"] = x
    return f"{split}_images", f"image {k % n} holds NaN or inf"


DEFECTS = {f.__name__: f for f in (negative_label, fractional_label, other_size, no_images,
                                   constant_images, bad_pixel)}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(defect=st.sampled_from(sorted(DEFECTS)), split=st.sampled_from(["train", "test"]),
       k=st.integers(0, 1000), compress=st.booleans(), seed=st.integers(0, 2**16))
def test_a_bad_idx_folder_names_the_file_and_the_problem(defect, split, k, compress, seed):
    rng = np.random.default_rng(seed)
    arrays = good_arrays(seed)
    key, problem = DEFECTS[defect](arrays, split, k, rng)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_folder(Path(tmp), arrays, compress)
        with pytest.raises(InputError) as err:
            load_images(f"idx:{tmp}")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{paths[key]}: "), (message, paths[key])
    assert problem in message, message


@settings(max_examples=20, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), compress=st.booleans(),
       dtype=st.sampled_from(["u1", ">i2", ">f4", ">f8"]), n_classes=st.integers(1, 12))
def test_good_idx_data_loads_standardised(seed, compress, dtype, n_classes):
    """Every check passes on good data of each pixel type: the pool is standardised (mean
    0, standard deviation 1) and the classes are the labels 0 .. max."""
    rng = np.random.default_rng(seed)
    arrays = good_arrays(seed)
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        arrays[f"{split}_images"] = arrays[f"{split}_images"].astype(dtype)
        arrays[f"{split}_labels"] = rng.integers(0, n_classes, n).astype("u1")
    arrays["train_labels"][0] = n_classes - 1
    with tempfile.TemporaryDirectory() as tmp:
        write_folder(Path(tmp), arrays, compress)
        data = load_images(f"idx:{tmp}")
    x = arrays["train_images"].reshape(N_TRAIN, -1).astype(float)
    np.testing.assert_allclose(data.x_train, (x - x.mean()) / x.std())
    assert abs(data.x_train.mean()) < 1e-12 and abs(data.x_train.std() - 1) < 1e-12
    assert data.image_shape == SHAPE and data.x_test.shape == (N_TEST, 20)
    assert data.n_classes == max(n_classes, int(arrays["test_labels"].max()) + 1)
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])


# ------------------------------------------ the cases named in the issue, through the CLI
NAMED = {  # issue 18 item 5: defect, split
    "negative labels": ("negative_label", "train"),
    "test images of another size": ("other_size", "test"),
    "no test images": ("no_images", "test"),
    "constant images": ("constant_images", "train"),
    "NaN pixels": ("bad_pixel", "train"),
}


@pytest.fixture()
def idx_preset(monkeypatch):
    """A function that registers the images preset ``idx-test`` on a folder (small MLP,
    the folder's 40 training images) for the CLI, for this test only."""
    from reduced_dynamics.tasks import images

    def register(folder: Path) -> None:
        config = images.ImagesConfig(preset="idx-test", dataset=f"idx:{folder}",
                                     n_train=N_TRAIN, hidden=(4,))
        monkeypatch.setitem(images.PRESETS, "idx-test", config)
        monkeypatch.setitem(images.TASK.probe_presets, "idx-test", images.PROBE)

    return register


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    from reduced_dynamics.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def probe_argv(output: Path) -> list[str]:
    return ["probe", "images", "--preset", "idx-test", "--alpha", "1,2", "--steps", "10",
            "--batch-size", "40", "-q", "-o", str(output)]


@pytest.mark.parametrize("case", sorted(NAMED))
def test_named_cases_are_one_error_line_in_the_cli(case, idx_preset, tmp_path):
    pytest.importorskip("torch")
    defect, split = NAMED[case]
    arrays = good_arrays(1)
    key, problem = DEFECTS[defect](arrays, split, 3, np.random.default_rng(1))
    paths = write_folder(tmp_path, arrays, compress=False)
    idx_preset(tmp_path)
    rc, _, err = run_cli(probe_argv(tmp_path / "landscape.nc"))
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith(f"error: {paths[key]}: "), err
    assert problem in err and "Traceback" not in err
    assert not (tmp_path / "landscape.nc").exists()


def test_a_good_idx_folder_is_probed(idx_preset, tmp_path):
    """The same preset on good data: a landscape of finite losses."""
    pytest.importorskip("torch")
    import reduced_dynamics as rd

    write_folder(tmp_path, good_arrays(1), compress=True)
    idx_preset(tmp_path)
    rc, _, err = run_cli(probe_argv(tmp_path / "landscape.nc"))
    assert rc == 0, err
    ds = rd.open_landscape(tmp_path / "landscape.nc")
    assert np.isfinite(ds["train_loss"].values).all()
    assert np.isfinite(ds["test_loss"].values).all()
