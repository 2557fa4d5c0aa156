"""Molecule data for the molecules task (Omnigrok Section 4, Fig. 5; SPEC §8): QM9 from the
``qm9pack`` package, graphs from SMILES with rdkit, nested training subsets. numpy + rdkit.

* **The table.** ``qm9pack`` ships QM9 (130 831 molecules) as CSV files in its ``data/``
  folder; its ``import`` is broken on new setuptools, so the folder is found with
  `importlib.util.find_spec` and the files are read with the ``csv`` module (SMILES and
  ``Polarizability_bohr3``; 1.5 s).
* **The selection.** One permutation of the 130 831 molecules drawn with ``data_seed``; its
  first ``n_molecules`` are the task's molecules, split 50/50: the first half is the
  training pool, the second the test set (SPEC §8). The training set of size N is the first N
  of the pool (the permutation is random already, so subsets are nested).
* **The target** is the isotropic polarizability, standardised with the mean and standard
  deviation of the whole training pool (not of the N used), so every N sees one target.
* **Graphs** (`featurise`): hydrogens added (`Chem.AddHs`), as in torch-geometric's QM9.
  Node features (11): one-hot H, C, N, O, F; atomic number; aromatic; sp, sp2, sp3; number
  of attached hydrogens. Edge features (4): bond type one-hot (single, double, triple,
  aromatic), each bond in both directions, edges sorted by (source, target).
* **Cache.** Only the molecules a config uses are featurised (about 0.1 ms each); the result
  is written once to ``$XDG_CACHE_HOME/reduced_dynamics/molecules/`` (default
  ``~/.cache/reduced_dynamics/molecules/``; `cache_dir`), one ``.npz`` per selection, and
  read from there afterwards. ``REDUCED_DYNAMICS_NO_CACHE=1`` skips it.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reduced_dynamics.errors import InputError

QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
QM9_SIZE = 130_831
TARGET_COLUMN = "Polarizability_bohr3"
INSTALL = "pip install 'reduced-dynamics[molecules]' (qm9pack, rdkit, torch-geometric)"
ELEMENTS = ("H", "C", "N", "O", "F")  # the one-hot node types (QM9's elements)
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
N_NODE_FEATURES = 11
N_EDGE_FEATURES = 4
CACHE_VERSION = 1  # bump when the features change: old cache files are then not read


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/reduced_dynamics/molecules``, else ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reduced_dynamics" / "molecules"


def qm9_folder() -> Path:
    """The ``data/`` folder of the installed ``qm9pack`` (found without importing it)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the molecules task needs the QM9 files of the package qm9pack, "
                         f"which is not installed: {INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [name for name in QM9_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"qm9pack at {folder.parent} lacks {missing}; reinstall it: {INSTALL}")
    return folder


def read_qm9(folder: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(smiles, polarizability)`` of every QM9 molecule in file order (bohr³)."""
    folder = qm9_folder() if folder is None else Path(folder)
    csv.field_size_limit(sys.maxsize)  # the XYZ columns are long
    smiles: list[str] = []
    target: list[float] = []
    for name in QM9_FILES:
        with open(folder / name, newline="") as f:
            rows = csv.reader(f)
            head = next(rows)
            if "SMILES" not in head or TARGET_COLUMN not in head:
                raise InputError(f"{folder / name} has no SMILES or {TARGET_COLUMN} column "
                                 f"(its columns: {head[:6]}...)")
            i, j = head.index("SMILES"), head.index(TARGET_COLUMN)
            for row in rows:
                smiles.append(row[i])
                target.append(float(row[j]))
    return np.array(smiles, dtype=object), np.array(target, dtype=np.float64)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


@dataclass(frozen=True)
class Graphs:
    """Molecular graphs concatenated: graph g has nodes ``node_ptr[g]:node_ptr[g+1]`` of
    ``x`` and edges ``edge_ptr[g]:edge_ptr[g+1]`` of ``edge_index`` (node indices local to
    its graph) and ``edge_attr``."""

    x: np.ndarray  # (n_nodes, 11) float64
    edge_index: np.ndarray  # (2, n_edges) int64, local
    edge_attr: np.ndarray  # (n_edges, 4) float64
    node_ptr: np.ndarray  # (n_graphs + 1,) int64
    edge_ptr: np.ndarray  # (n_graphs + 1,) int64

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    def take(self, rows: np.ndarray) -> Graphs:
        """Graphs ``rows`` (in that order), concatenated anew."""
        rows = np.asarray(rows, np.int64)
        nodes_i = _cat([np.arange(self.node_ptr[g], self.node_ptr[g + 1]) for g in rows])
        edges_i = _cat([np.arange(self.edge_ptr[g], self.edge_ptr[g + 1]) for g in rows])
        counts = np.diff(self.node_ptr)[rows]
        ecounts = np.diff(self.edge_ptr)[rows]
        return Graphs(self.x[nodes_i], self.edge_index[:, edges_i], self.edge_attr[edges_i],
                      np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                      np.concatenate([[0], np.cumsum(ecounts)]).astype(np.int64))


def featurise(smiles: list[str] | np.ndarray) -> Graphs:
    """Graphs of SMILES strings with hydrogens added (module docstring); `InputError` for a
    SMILES rdkit cannot parse."""
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        raise InputError(f"the molecules task needs rdkit: {INSTALL}") from None
    RDLogger.DisableLog("rdApp.*")
    hyb = {Chem.rdchem.HybridizationType.SP: 0, Chem.rdchem.HybridizationType.SP2: 1,
           Chem.rdchem.HybridizationType.SP3: 2}
    bonds = {getattr(Chem.rdchem.BondType, name): k for k, name in enumerate(BOND_TYPES)}
    xs, eis, eas, n_nodes, n_edges = [], [], [], [0], [0]
    for k, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(str(s))
        if mol is None:
            raise InputError(f"SMILES {s!r} (molecule {k}) cannot be parsed by rdkit")
        mol = Chem.AddHs(mol)
        n = mol.GetNumAtoms()
        x = np.zeros((n, N_NODE_FEATURES))
        for a in mol.GetAtoms():
            i, sym = a.GetIdx(), a.GetSymbol()
            if sym not in ELEMENTS:
                raise InputError(f"SMILES {s!r}: element {sym!r} is not one of {ELEMENTS}")
            x[i, ELEMENTS.index(sym)] = 1.0
            x[i, 5] = a.GetAtomicNum()
            x[i, 6] = float(a.GetIsAromatic())
            if a.GetHybridization() in hyb:
                x[i, 7 + hyb[a.GetHybridization()]] = 1.0
        pairs, types = [], []
        for b in mol.GetBonds():
            i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            if b.GetBondType() not in bonds:
                raise InputError(f"SMILES {s!r}: bond type {b.GetBondType()} is not one of "
                                 f"{BOND_TYPES}")
            pairs += [(i, j), (j, i)]
            types += [bonds[b.GetBondType()]] * 2
        ei = np.array(pairs, np.int64).reshape(-1, 2).T
        ea = np.zeros((ei.shape[1], N_EDGE_FEATURES))
        ea[np.arange(ei.shape[1]), np.array(types, np.int64)] = 1.0
        order = np.argsort(ei[0] * n + ei[1], kind="stable")
        ei, ea = ei[:, order], ea[order]
        is_h = x[:, 0]
        np.add.at(x[:, 10], ei[1], is_h[ei[0]])  # attached hydrogens, as torch-geometric's QM9
        xs.append(x)
        eis.append(ei)
        eas.append(ea)
        n_nodes.append(n)
        n_edges.append(ei.shape[1])
    if not xs:
        raise InputError("`featurise` needs at least one SMILES string")
    return Graphs(np.concatenate(xs), np.concatenate(eis, axis=1), np.concatenate(eas),
                  np.cumsum(n_nodes).astype(np.int64), np.cumsum(n_edges).astype(np.int64))


@dataclass(frozen=True)
class MoleculeData:
    """A task's molecules: the training set and the test set, graphs and standardised
    targets, and the training pool's mean and standard deviation (bohr³)."""

    train: Graphs
    y_train: np.ndarray  # standardised
    test: Graphs
    y_test: np.ndarray
    mean: float
    std: float


def select(n_total: int, n_molecules: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training pool, test set) rows of a table of ``n_total`` molecules: the first
    ``n_molecules`` of one permutation drawn with ``data_seed``, split 50/50."""
    if not 2 <= n_molecules <= n_total:
        raise InputError(f"`n_molecules` must be in [2, {n_total}] (QM9 has {n_total} "
                         f"molecules), got {n_molecules}")
    rows = np.random.default_rng(data_seed).permutation(n_total)[:n_molecules]
    half = n_molecules // 2
    return rows[:half], rows[half:]


def build(smiles: np.ndarray, target: np.ndarray, *, n_molecules: int, data_seed: int,
          n_train: int, n_test: int | None) -> MoleculeData:
    """`MoleculeData` of a table (module docstring): the training set is the first
    ``n_train`` of the pool, the test set the first ``n_test`` of the held-out half."""
    pool, held = select(len(smiles), n_molecules, data_seed)
    if not 1 <= n_train <= len(pool):
        raise InputError(f"`n_train` must be in [1, {len(pool)}] (half of n_molecules = "
                         f"{n_molecules} is the training pool), got {n_train}")
    if n_test is not None and not 1 <= n_test <= len(held):
        raise InputError(f"`n_test` must be in [1, {len(held)}] (the held-out half of "
                         f"n_molecules = {n_molecules}) or None, got {n_test}")
    mean, std = float(target[pool].mean()), float(target[pool].std())
    if not (np.isfinite(std) and std > 0):
        raise InputError(f"the training pool's polarizabilities have standard deviation "
                         f"{std:g}: standardising needs > 0 (give more molecules)")
    train, test = pool[:n_train], held if n_test is None else held[:n_test]
    return MoleculeData(featurise(smiles[train]), (target[train] - mean) / std,
                        featurise(smiles[test]), (target[test] - mean) / std, mean, std)


def _cache_file(key: dict) -> Path:
    digest = hashlib.sha256(repr(sorted(key.items())).encode()).hexdigest()[:16]
    return cache_dir() / f"qm9_v{CACHE_VERSION}_{digest}.npz"


def _to_arrays(data: MoleculeData) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"y_train": data.y_train, "y_test": data.y_test,
                                  "mean_std": np.array([data.mean, data.std])}
    for split in ("train", "test"):
        g = getattr(data, split)
        for name in ("x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"):
            out[f"{split}_{name}"] = getattr(g, name)
    return out


def _from_arrays(z: dict) -> MoleculeData:
    graphs = {split: Graphs(*(np.asarray(z[f"{split}_{n}"]) for n in (
        "x", "edge_index", "edge_attr", "node_ptr", "edge_ptr"))) for split in ("train", "test")}
    mean, std = (float(v) for v in z["mean_std"])
    return MoleculeData(graphs["train"], np.asarray(z["y_train"]), graphs["test"],
                        np.asarray(z["y_test"]), mean, std)


def load_qm9(*, n_molecules: int | None, data_seed: int, n_train: int,
             n_test: int | None) -> MoleculeData:
    """The QM9 molecules of a config (``n_molecules`` None: all 130 831), from the user
    cache when it holds them (module docstring), else featurised and cached."""
    folder = qm9_folder()
    n_mol = QM9_SIZE if n_molecules is None else int(n_molecules)
    key = {"n_molecules": n_mol, "data_seed": int(data_seed), "n_train": int(n_train),
           "n_test": n_test, "files": [(n, (folder / n).stat().st_size) for n in QM9_FILES]}
    path = _cache_file(key)
    use_cache = os.environ.get("REDUCED_DYNAMICS_NO_CACHE") != "1"
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return _from_arrays(dict(z))
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file: build it again
    smiles, target = read_qm9(folder)
    data = build(smiles, target, n_molecules=n_mol, data_seed=data_seed, n_train=n_train,
                 n_test=n_test)
    if use_cache:
        _write_cache(path, data)
    return data


def _write_cache(path: Path, data: MoleculeData) -> None:
    """Write the cache file atomically (`io.atomic`); a folder that cannot be written is
    skipped (the data are built again next time)."""
    from reduced_dynamics.errors import WriteError
    from reduced_dynamics.io.atomic import write_npz

    try:
        write_npz(_to_arrays(data), path, what="molecule cache")
    except (OSError, WriteError):
        return
