"""The brainlearn command line: version, help with an example on every command."""

from __future__ import annotations

import argparse

import pytest

from brainlearn import __version__
from brainlearn.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_every_command_has_help_with_an_example():
    commands = list(_commands(build_parser()))
    names = {c[0] for c, _ in commands}
    assert {"data", "demo", "mnist", "protocol", "export", "analyze", "convert",
            "compare"} <= names
    for path, parser in commands:
        text = parser.format_help()
        assert "example" in text.lower(), f"brainlearn {' '.join(path)} --help has no example"


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    code = main(["mnist", "evaluate", str(tmp_path / "missing")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("brainlearn: error:") and err.count("\n") == 1


def test_cli_offers_every_integration_of_the_model():
    """The command line's list (kept free of Brian2 imports) is the model's list."""
    from brainlearn.commands.mnist import INTEGRATIONS as CLI_INTEGRATIONS
    from brainlearn.models.diehl_cook.model import INTEGRATIONS, DiehlCookParams

    assert sorted(CLI_INTEGRATIONS) == sorted(INTEGRATIONS)
    assert CLI_INTEGRATIONS[0] == DiehlCookParams().integration  # the default, first
