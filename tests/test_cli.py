"""The probe/info/plot commands, grid parsing, and imports without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from reduced_dynamics.cli.main import main
from reduced_dynamics.errors import InputError
from reduced_dynamics.gridspec import parse_grid, parse_list
from reduced_dynamics.io.landscape_file import open_landscape, save_landscape


def test_grid_specs():
    np.testing.assert_allclose(parse_grid("x", "log:0.1:10:3"), [0.1, 1.0, 10.0])
    np.testing.assert_allclose(parse_grid("x", "quad:0:1:3"), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(parse_grid("x", "0.3, 0.1,0.2"), [0.1, 0.2, 0.3])
    with pytest.raises(InputError, match=r"`--m`: unknown grid kind 'cubic'"):
        parse_grid("--m", "cubic:0:1:3")
    with pytest.raises(InputError, match=r"`--alpha`: log grids need START, STOP > 0"):
        parse_grid("--alpha", "log:0:1:3")
    with pytest.raises(InputError, match=r"`--gamma` could not be read from 'a,b'"):
        parse_grid("--gamma", "a,b")
    with pytest.raises(InputError, match=r"`--gamma` values must be >= 0, got \[-0.1\]"):
        parse_list("--gamma", "-0.1,1", minimum=0.0)


def test_info_and_plot(tmp_path, capsys, landscape):
    path = save_landscape(landscape, tmp_path / "l.nc")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "task: analytic" in out and "w: 6 values" in out and "unconverged: 0 of 30" in out
    assert main(["plot", str(path), "-o", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_info_on_a_bad_file_is_one_message(tmp_path, capsys):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"\x89HDF garbage")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input file") and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["probe", "toy-mult", "--alpha", "1", "-o", "x.nc"], "`task` must be one of"),
    (["probe", "toy-addition", "-o", "x.nc"], "give exactly one of `--w`"),
    (["probe", "toy-addition", "--alpha", "1", "--m", "0,2", "-o", "x.nc"],
     "`m` must be increasing within [0, 1]"),
    (["probe", "toy-addition", "--alpha", "1", "--steps", "3", "-o", "x.nc"],
     "`steps` must be >= 10, got 3"),
    (["probe", "toy-addition", "--alpha", "1", "--seeds", "x", "-o", "x.nc"],
     "`--seeds` must be a count"),
    (["train", "toy-addition", "--gamma", "-1", "-o", "x.nc"], "`--gamma` values must be >= 0"),
])
def test_bad_cli_input(argv, message, capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_probe_command_writes_a_checked_landscape(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "tiny.nc"
    argv = ["probe", "toy-addition", "--alpha", "0.5,2", "--m", "0,0.5", "--seeds", "2",
            "--steps", "20", "--chunk-size", "3", "-q", "-o", str(out)]
    assert main(argv) == 0
    ds = open_landscape(out)
    assert ds.sizes == {"w": 2, "m": 2, "seed": 2}
    assert ds.attrs["task"] == "toy-addition" and ds.attrs["preset"] == "paper"
    assert "probe toy-addition" in ds.attrs["history"]
    np.testing.assert_allclose(ds["alpha"].values, [0.5, 2.0], rtol=1e-12)
    best = ds["train_loss_by_seed"].min("seed")
    np.testing.assert_array_equal(ds["train_loss"].values, best.values)


def test_predictions_import_without_torch(tmp_path, landscape):
    """`import reduced_dynamics`, opening a landscape and predicting never import torch."""
    path = save_landscape(landscape, tmp_path / "l.nc")
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import reduced_dynamics as rd\n"
        "from reduced_dynamics.engine.predict import integrate\n"
        f"ds = rd.open_landscape({str(path)!r})\n"
        "r = integrate(ds, [(5.0, 0.1)], gamma=[0.1])\n"
        "assert r['status'].size == 1\n"
        "import reduced_dynamics.cli.main, reduced_dynamics.validate\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
