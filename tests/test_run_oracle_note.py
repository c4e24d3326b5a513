"""Every test output of an ``oracle`` run says that it fed observed future drivers."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from geostl.commands.run import ORACLE_NOTE, write_tables
from geostl.metrics import MetricTable


def _table(scale: float) -> MetricTable:
    rows = [
        {"metric": m, "channel": "tec", "lead": lead, "weighting": "lat", "value": scale * v}
        for m, v in (("rmse", 2.0), ("mae", 1.5))
        for lead in ("15min", "30min", "all")
    ]
    return MetricTable(
        rows, {"rmse": "sqrt of the weighted mean"}, {"tec": "TECU"}, {"rmse": "{u}", "mae": "{u}"}
    )


@pytest.mark.parametrize("policy", ["oracle", "known"])
def test_metrics_outputs_carry_the_oracle_statement(tmp_path, capsys, policy):
    test = SimpleNamespace(
        future_forcings=policy,
        uses_future_observed=policy == "oracle",
        target_names=["tec"],
        units={"tec": "TECU"},
    )
    write_tables({"model": _table(1.0), "persistence": _table(1.3)}, test, tmp_path, "best.pt")
    printed = capsys.readouterr().out
    saved = json.loads((tmp_path / "metrics.json").read_text())
    markdown = (tmp_path / "metrics.md").read_text()
    assert saved["future_forcings"] == policy
    if policy == "oracle":
        assert saved["warning"] == ORACLE_NOTE
        assert ORACLE_NOTE in printed
        assert markdown.count(ORACLE_NOTE) == 3  # heading, RMSE comparison, model table
    else:
        assert "warning" not in saved
        assert "oracle" not in printed and "oracle" not in markdown
    assert "RMSE" in printed and "persistence" in printed
