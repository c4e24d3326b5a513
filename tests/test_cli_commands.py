"""The command table of ``geostl``: every subcommand parses and reaches its function."""

from __future__ import annotations

import pytest

from geostl import cli

COMMANDS = ["train", "test", "predict", "bench", "grid", "gapfill", "enso", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args([command, "--help"])
    assert stop.value.code == 0
    assert f"geostl {command}" in capsys.readouterr().out


def test_readers_of_the_enso_seed_are_exported() -> None:
    import geostl.io

    assert {"open_cobe_sst", "open_oni_table"} <= set(geostl.io.__all__)


def test_overrides_may_follow_an_option():
    """`geostl train --config C --quiet train.lr=3e-4` keeps every override, in order; an
    unknown option is still an error."""
    from geostl.cli import build_parser, parse_command_line

    parser = build_parser()
    args = parse_command_line(
        parser, ["train", "--config", "c.yaml", "train.lr=1", "--quiet", "train.seed=2"]
    )
    assert args.overrides == ["train.lr=1", "train.seed=2"] and args.quiet
    with pytest.raises(SystemExit):
        parse_command_line(parser, ["train", "--config", "c.yaml", "--bogus"])
    with pytest.raises(SystemExit):  # a subcommand without overrides takes no key=value
        parse_command_line(parser, ["models", "x=1"])
