"""Image data for the images task (Omnigrok Section 4, 5.2; SPEC §8): loading, standardising,
nested training subsets and the linear representation of Fig. 8. Pure numpy.

Data sets, all offline:

* ``digits``: scikit-learn's 1 797 real 8×8 digits (`sklearn.datasets.load_digits`), split
  once with a seed into a training pool and a fixed test set;
* ``fashion-mnist``: 70 000 28×28 images from Debian's ``dataset-fashion-mnist`` (IDX gzip
  files in ``/usr/share/datasets/fashion-mnist``), its own 60 000 / 10 000 split;
* ``idx:PATH``: any folder holding MNIST-format IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  optionally ``.gz``), e.g. real MNIST downloaded by the user.

Inputs are standardised with one mean and one standard deviation of the whole training
pool, so every training-set size N sees the same inputs. The training subset of size N is
the first N entries of one seeded permutation of the pool: subsets are nested.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reduced_dynamics.errors import InputError, shown

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# IDX type codes (the third byte of the magic number) and their big-endian numpy types
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
DATASETS = ("digits", "fashion-mnist", "idx:PATH")


@dataclass(frozen=True)
class ImageData:
    """A training pool and a fixed test set, standardised, with the nested-subset order."""

    x_train: np.ndarray  # (n_pool, d) float64, standardised
    y_train: np.ndarray  # (n_pool,) int64 labels
    x_test: np.ndarray  # (n_test, d)
    y_test: np.ndarray  # (n_test,)
    order: np.ndarray  # (n_pool,) permutation: the subset of size N is order[:N]
    image_shape: tuple[int, ...]
    n_classes: int

    @property
    def n_pool(self) -> int:
        return len(self.y_train)

    def subset(self, n_train: int) -> np.ndarray:
        """Indices into the pool of the nested training subset of size ``n_train``."""
        if not 1 <= n_train <= self.n_pool:
            raise InputError(f"`n_train` must be in [1, {self.n_pool}] (the training pool), "
                             f"got {n_train}")
        return self.order[:n_train]


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (gzip or plain) as a numpy array of its stored shape and type."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise InputError(f"{path} is not an IDX file (its first bytes are {raw[:4]!r}; an "
                         "IDX file starts with 0x00 0x00, a type code and the rank)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    n = int(np.prod(shape)) if shape else 0
    if len(raw) - offset != n * dtype.itemsize:
        raise InputError(f"IDX file {path} is truncated or too long: its header promises "
                         f"shape {shape} ({n * dtype.itemsize} bytes of data), it holds "
                         f"{len(raw) - offset}")
    return np.frombuffer(raw, dtype, n, offset).reshape(shape)


def check_dataset(name: str, value: object) -> str:
    """``value``, a data set: ``digits``, ``fashion-mnist`` or ``idx:PATH`` (the files are
    read, and checked, when the data is loaded: `raw_images`)."""
    if not isinstance(value, str) or not (value in DATASETS[:2] or (
            value.startswith("idx:") and len(value) > 4)):
        raise InputError(f"`{name}` must be one of {list(DATASETS)}, got {shown(value)}")
    return value


def _idx_folder(folder: Path, hint: str) -> tuple[np.ndarray, ...]:
    arrays, paths = [], []
    for stem in IDX_FILES.values():
        found = [p for p in (folder / stem, folder / f"{stem}.gz") if p.exists()]
        if not found:
            raise InputError(f"no {stem}[.gz] in {folder}; {hint}")
        arrays.append(read_idx(found[0]))
        paths.append(found[0])
    x_tr, y_tr, x_te, y_te = arrays
    for x, y, px, py in ((x_tr, y_tr, paths[0], paths[1]), (x_te, y_te, paths[2], paths[3])):
        if x.ndim < 2:
            raise InputError(f"{px}: an images file holds an array (images, rows[, "
                             f"columns]), this one has shape {x.shape}")
        if y.ndim != 1:
            raise InputError(f"{py}: a labels file holds one label per image (a 1-D "
                             f"array), this one has shape {y.shape}")
    if len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise InputError(f"IDX files in {folder} disagree: {len(x_tr)} training images but "
                         f"{len(y_tr)} labels, {len(x_te)} test images but {len(y_te)} labels")
    check_image_data(x_tr, y_tr, x_te, y_te, paths)
    return x_tr, y_tr, x_te, y_te


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def check_image_data(x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, y_te: np.ndarray,
                     paths: list[Path]) -> None:
    """Refuse data the images task cannot learn from, naming the file (``paths``: the
    training images, training labels, test images and test labels): no images, test images
    of another size than the training images, labels that are not class indices >= 0,
    pixels that are NaN or inf, and training images that are all one value (their
    standard deviation, which standardises the inputs, would be 0)."""
    for x, path, what in ((x_tr, paths[0], "training"), (x_te, paths[2], "test")):
        if len(x) == 0:
            raise InputError(f"{path}: holds no {what} images (its shape is {x.shape}); "
                             f"the images task needs {what} images")
        if x.size == 0:
            raise InputError(f"{path}: its images have no pixels (size {_size(x.shape[1:])})")
    if x_te.shape[1:] != x_tr.shape[1:]:
        raise InputError(f"{paths[2]}: the test images are {_size(x_te.shape[1:])} but the "
                         f"training images ({paths[0].name}) are {_size(x_tr.shape[1:])}; "
                         "both sets need images of one size")
    for y, path in ((y_tr, paths[1]), (y_te, paths[3])):
        bad = ~np.isfinite(y) | (y != np.round(y)) if y.dtype.kind == "f" else np.zeros(
            y.shape, bool)
        bad |= y < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: labels must be class indices (integers >= 0), got "
                             f"{y[k].item()!r} for image {k}")
    for x, path in ((x_tr, paths[0]), (x_te, paths[2])):
        if x.dtype.kind == "f":
            bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise InputError(f"{path}: pixels must be finite numbers; image {k} holds "
                                 f"NaN or inf ({int(bad.sum())} image(s) do)")
    if x_tr.min() == x_tr.max():
        raise InputError(f"{paths[0]}: every pixel of every training image is "
                         f"{x_tr.flat[0].item()!r}: the inputs are standardised by the training "
                         "images' standard deviation, which would be 0")


def raw_images(dataset: str, *, test_size: int = 297, split_seed: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unstandardised ``(x_train, y_train, x_test, y_test)``, images as stored.

    ``test_size`` and ``split_seed`` split ``digits`` (which has no split of its own); the
    IDX data sets keep theirs. The IDX files are checked (`check_image_data`).
    """
    check_dataset("dataset", dataset)
    if dataset == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise InputError("dataset 'digits' needs scikit-learn: pip install scikit-learn"
                             ) from None
        digits = load_digits()
        x, y = digits.images, digits.target
        if not 1 <= test_size < len(y):
            raise InputError(f"`test_size` must be in [1, {len(y) - 1}] for digits, got "
                             f"{test_size}")
        perm = np.random.default_rng(split_seed).permutation(len(y))
        te, tr = np.sort(perm[:test_size]), np.sort(perm[test_size:])
        return x[tr], y[tr], x[te], y[te]
    if dataset == "fashion-mnist":
        return _idx_folder(FASHION_MNIST_DIR, "install Debian's package: apt-get install "
                           "dataset-fashion-mnist")
    folder = Path(dataset[4:]).expanduser()  # idx:PATH
    if not folder.is_dir():
        raise InputError(f"dataset {dataset!r}: {folder} is not a folder; give a folder "
                         "with MNIST-format IDX files (" + ", ".join(IDX_FILES.values())
                         + ", optionally .gz)")
    return _idx_folder(folder, "give a folder with MNIST-format IDX files")


def load_images(dataset: str, *, test_size: int = 297, split_seed: int = 0,
                subset_seed: int = 0, n_test: int | None = None) -> ImageData:
    """Standardised images, flattened, with the nested-subset order from ``subset_seed``.

    x ← (x − μ) / σ with μ, σ the mean and standard deviation of every pixel of the whole
    training pool (one scalar each), so the inputs do not depend on N. ``n_test`` keeps
    only the first ``n_test`` test images (the fixed test set of a smaller study).
    """
    x_tr, y_tr, x_te, y_te = raw_images(dataset, test_size=test_size, split_seed=split_seed)
    if n_test is not None:
        if not 1 <= n_test <= len(y_te):
            raise InputError(f"`n_test` must be in [1, {len(y_te)}] for {dataset!r}, got "
                             f"{n_test}")
        x_te, y_te = x_te[:n_test], y_te[:n_test]
    shape = tuple(int(s) for s in x_tr.shape[1:])
    x_tr = x_tr.reshape(len(x_tr), -1).astype(np.float64)
    x_te = x_te.reshape(len(x_te), -1).astype(np.float64)
    mu, sigma = x_tr.mean(), x_tr.std()
    if not (np.isfinite(mu) and np.isfinite(sigma) and sigma > 0):
        raise InputError(f"dataset {dataset!r}: the training images' pixels have mean "
                         f"{mu:g} and standard deviation {sigma:g}; standardising them needs "
                         "a finite mean and a finite standard deviation > 0")
    y_tr, y_te = y_tr.astype(np.int64), y_te.astype(np.int64)
    order = np.random.default_rng(subset_seed).permutation(len(y_tr))
    return ImageData((x_tr - mu) / sigma, y_tr, (x_te - mu) / sigma, y_te, order, shape,
                     int(max(y_tr.max(), y_te.max())) + 1)


def linear_representation(labels: np.ndarray, n_classes: int, d: int,
                          low: float = -0.5, high: float = 0.5) -> np.ndarray:
    """R_linear of Fig. 8: every pixel of an image of class k is linspace(low, high, K)[k]."""
    values = np.linspace(low, high, n_classes)
    return np.repeat(values[np.asarray(labels)][:, None], d, axis=1)
