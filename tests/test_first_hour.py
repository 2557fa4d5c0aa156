"""What a new user meets first: the default probe recipe, per-task presets, help texts."""

from __future__ import annotations

import dataclasses
import re

import pytest

from reduced_dynamics.cli.main import build_parser
from reduced_dynamics.io.landscape_file import open_landscape
from reduced_dynamics.io.resources import default_landscape
from reduced_dynamics.io.schema import config_of
from reduced_dynamics.tasks import REGISTRY, get_task


def test_default_toy_probe_is_the_shipped_landscapes_recipe():
    """`probe toy-addition` without options probes as the shipped landscape was probed
    (cosine schedule, alpha-scaled rate, 1e4 steps): every setting the file records."""
    recorded = config_of(open_landscape(default_landscape()))["probe"]
    default = dataclasses.asdict(get_task("toy-addition").probe_preset("paper"))
    assert recorded["schedule"] == "cosine" and recorded["lr_scaling"] == "alpha"
    assert {k: v for k, v in default.items() if k in recorded} == recorded


def _help(*argv: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices[argv[0]].format_help()
    return " ".join(text.split())


@pytest.mark.parametrize("command", ["probe", "train"])
def test_preset_help_lists_each_tasks_own_presets(command):
    text = _help(command)
    for entry in REGISTRY.values():
        assert re.search(re.escape(f"{entry.name}: ") + r"[\w, -]+", text)
        for preset in entry.presets:
            assert preset.replace("-", "- ") in text or preset in text


@pytest.mark.parametrize(("command", "options"), [
    ("probe", ("--schedule", "--lr-scaling", "--dtype")),
    ("predict", ("--rtol", "--atol", "--max-steps", "--theta-test")),
])
def test_every_option_has_help(command, options):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    helps = {opt: a.help for a in sub._actions for opt in a.option_strings}
    for opt in options:
        assert helps[opt], opt
    assert all(a.help for a in sub._actions if a.option_strings), [
        a.option_strings for a in sub._actions if a.option_strings and not a.help]
