"""The registry behind ``brainlearn models list``: every listed command exists and parses."""

from __future__ import annotations

import argparse
import importlib.util
import shlex

import pytest

from brainlearn.cli import build_parser, main
from brainlearn.models import MODELS, models_table

ALL_COMMANDS = sorted({(m.name, c) for m in MODELS.values() for c in (*m.commands, *m.embedded)})


def _subcommand_path(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The leading words of ``words`` that name (sub)commands of ``parser``."""
    path = []
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        path.append(word)
        parser = subs[0].choices[word]
    return path


def test_registry_names_the_systems_of_issue_16():
    assert {"diehl-cook-2015", "converted-mlp", "surrogate-mlp", "eprop-readout"} <= set(MODELS)
    for model in MODELS.values():
        assert model.citation and model.commands, model.name
        # the module is where the registry says (found without importing brian2 or torch)
        assert importlib.util.find_spec(model.module) is not None, model.module
    table = models_table()
    assert list(table["name"]) == list(MODELS)


@pytest.mark.parametrize("name, command", ALL_COMMANDS)
def test_every_listed_command_parses_and_has_help(name, command, capsys):
    words = shlex.split(command)
    assert words[0] == "brainlearn", command
    parser = build_parser()
    path = _subcommand_path(parser, words[1:])
    assert len(path) >= 2, f"{name}: {command!r} names no sub-command"
    # every flag the registry shows is one the command accepts
    args = parser.parse_args(words[1:])
    assert callable(args.func)
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out.lower()


def test_models_list_prints_every_model_with_citation(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for model in MODELS.values():
        assert model.name in out and model.citation in out and model.commands[0] in out
    assert main(["models", "list", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("name,family,")
