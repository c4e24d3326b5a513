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
