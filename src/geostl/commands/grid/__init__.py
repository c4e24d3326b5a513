"""``geostl grid``: a backbone x fusion x channels x policy matrix of runs, scored into the
Channel Mixer paper's Table 1 layout (Markdown, CSV, JSON), resuming finished cells.

Public API::

    from geostl.commands.grid import load_grid_config, GridSpec, expand_cells, run_grid
    cfg = load_grid_config(["configs/grid_tec.yaml"], ["train.max_minutes=0.5"])
    grid = GridSpec.from_config(cfg)
    cells = expand_cells(grid)             # one complete run config per cell
    report = run_grid(grid, cfg)           # report.results, report.failures, report.tables

Modules: ``config`` (the ``grid`` section's keys), ``spec`` (the resolved grid), ``cells``
(expansion), ``regimes`` (window selection by a driver), ``scores`` (MSE/RMSE/MAE per regime,
Param/MACs/throughput), ``table`` (Table 1 layout), ``runner`` (resume and failures).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from .cells import Cell, config_hash, expand_cells, grid_dir
from .config import GRID_RUN_SPEC, GRID_SECTION, check_grid
from .regimes import REDUCTIONS, Regime, regime_masks, regime_selection, window_values
from .runner import GridReport, cell_state, list_cells, run_grid, score_cell, scoring_hash
from .spec import BackboneChoice, GridSpec
from .table import gains, table_rows, write_tables

__all__ = [
    "GRID_RUN_SPEC",
    "GRID_SECTION",
    "REDUCTIONS",
    "BackboneChoice",
    "Cell",
    "GridReport",
    "GridSpec",
    "Regime",
    "cell_state",
    "check_grid",
    "config_hash",
    "expand_cells",
    "gains",
    "grid_dir",
    "list_cells",
    "load_grid_config",
    "regime_masks",
    "regime_selection",
    "run_grid",
    "score_cell",
    "scoring_hash",
    "table_rows",
    "window_values",
    "write_tables",
]


def load_grid_config(
    paths: Sequence[str | os.PathLike] | str | os.PathLike, overrides: Iterable[str] = ()
) -> dict[str, Any]:
    """``geostl.runconfig.load_config`` with the ``grid`` section (:data:`GRID_RUN_SPEC`)."""
    from geostl.runconfig import load_config

    return load_config(paths, overrides, spec=GRID_RUN_SPEC)
