"""Run every cell of a grid, resuming finished ones, then write the table.

Each cell runs in ``<grid dir>/<cell id>/`` as a normal ``geostl train`` run
(:func:`geostl.commands.run.train`: train -> best checkpoint -> test tables), then is scored
from its ``best.pt`` (:mod:`geostl.commands.grid.scores`). Files the grid adds to a run directory:

- ``trained.json``: ``{"config_hash"}``, written once training and the test tables finished;
- ``cell.json``: the cell's result (axes, scores, complexity, config, hashes), written last.

What a rerun does with each cell (its state):

- ``done``: cell.json holds the same config hash and scoring hash -> skipped;
- ``rescore``: same config, other scoring settings (regimes, target, throughput) -> scored again
  from best.pt, no training;
- ``score``: trained.json matches but no cell.json -> scored from best.pt;
- ``resume``: last.pt of the same config but training unfinished -> training continues from
  last.pt (the Trainer restores weights, optimiser, schedule and data order; a
  ``train.max_minutes`` budget starts again);
- ``changed``: the directory holds a run of another config -> removed and rerun from scratch
  (the changed keys are printed);
- ``new``: nothing yet -> trained from scratch.

A cell that fails is reported (which cell, the error, the traceback on stderr); the other
cells go on, the table is written with a "Failed cells" section and :func:`run_grid` reports
the failures so that the command exits non-zero.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from geostl import __version__
from geostl.runconfig import RUN_SPEC

from .cells import Cell, config_hash, expand_cells, grid_dir, strip_defaults
from .spec import GridSpec
from .table import table_notes, write_tables

__all__ = [
    "GridReport",
    "SourceCache",
    "cell_state",
    "list_cells",
    "measure_cell",
    "run_grid",
    "score_cell",
    "scoring_hash",
]

SCORES_VERSION = 1
RESULT_FILE = "cell.json"
TRAINED_FILE = "trained.json"

Say = Callable[[str], None]


@dataclass
class GridReport:
    """What :func:`run_grid` did: results by cell id, failures by cell id, the table files."""

    cells: list[Cell]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def scoring_hash(grid: GridSpec) -> str:
    """Hash of what the scores depend on beyond the cell config (regimes, target, timing)."""
    body = {
        "version": SCORES_VERSION,
        "target": grid.target,
        "throughput": grid.throughput,
        "regimes": {r.name: r.to_dict() for r in grid.regimes},
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: d}


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configs (``run`` ignored; a key absent on
    one side and at its spec default on the other is no change)."""
    a = _flatten(strip_defaults({k: v for k, v in old.items() if k != "run"}, RUN_SPEC))
    b = _flatten(strip_defaults({k: v for k, v in new.items() if k != "run"}, RUN_SPEC))
    return sorted(k for k in set(a) | set(b) if a.get(k, object()) != b.get(k, object()))


def _stored_config(run: Path) -> dict[str, Any] | None:
    """The config of whatever run is in ``run``: its cell.json, else its config.yaml."""
    result = _read_json(run / RESULT_FILE)
    if result and isinstance(result.get("config"), Mapping):
        return dict(result["config"])
    try:
        from geostl.runconfig import yaml_load

        return yaml_load((run / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _last_checkpoint_matches(run: Path, digest: str) -> bool:
    last = run / "last.pt"
    if not last.is_file():
        return False
    from geostl.engine import load_checkpoint

    try:
        ckpt = load_checkpoint(last)
    except Exception:  # noqa: BLE001 - an unreadable (e.g. truncated) checkpoint is not resumable
        return False
    return isinstance(ckpt.get("config"), Mapping) and config_hash(ckpt["config"]) == digest


def cell_state(cell: Cell, scoring: str) -> tuple[str, str]:
    """``(state, why)`` of ``cell`` from its run directory (states: see module docstring)."""
    run, digest = cell.run_dir, cell.config_hash
    stored = _stored_config(run) if run.exists() else None
    # a hash written by an older geostl (another hashing rule) still matches when the stored
    # config hashes to the same digest now
    same_stored = stored is not None and config_hash(stored) == digest
    result = _read_json(run / RESULT_FILE)
    if result is not None and (result.get("config_hash") == digest or same_stored):
        if result.get("scoring_hash") == scoring:
            return "done", "finished earlier with the same config"
        return "rescore", "same config, other scoring settings: scoring best.pt again"
    trained = _read_json(run / TRAINED_FILE)
    if (
        trained is not None
        and (trained.get("config_hash") == digest or same_stored)
        and (run / "best.pt").is_file()
    ):
        return "score", "trained earlier, not scored yet"
    if _last_checkpoint_matches(run, digest):
        return "resume", "interrupted: continuing from last.pt"
    if run.exists():
        keys = changed_keys(stored, cell.config) if stored is not None else []
        shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
        why = f"config changed ({shown})" if keys else "unfinished run without a checkpoint"
        return "changed", why + ": rerun from scratch"
    return "new", "not run yet"


class SourceCache:
    """Opened ``data.sources`` shared by the cells that declare the same ones (the readers
    parse files; every cell of a grid normally reads the same sources)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def __call__(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        from geostl.runconfig import open_sources

        key = json.dumps(cfg["data"]["sources"], sort_keys=True, default=str)
        if key not in self._open:
            self._open[key] = open_sources(cfg["data"]["sources"])
        return self._open[key]


def measure_cell(cell: Cell, grid: GridSpec, sources: SourceCache) -> dict[str, Any]:
    """Score the cell's best.pt on the test split and measure its size and speed.

    Returns ``{"scores", "regime_units", "complexity", "uses_future_observed"}``.
    """
    from geostl.benchmark import resolve_device
    from geostl.commands.run import prepare
    from geostl.engine import build_model_from_checkpoint, load_checkpoint
    from geostl.engine.checkpoint import normaliser_from_checkpoint

    from .regimes import regime_masks
    from .scores import measure_complexity, score_windows

    cfg = cell.config
    ckpt = load_checkpoint(cell.run_dir / "best.pt")
    opened = sources(cfg)
    _, datasets = prepare(cfg, normaliser_from_checkpoint(ckpt), opened)
    test = datasets["test"]
    device = resolve_device(cfg["train"]["device"])
    model = build_model_from_checkpoint(ckpt).to(device)
    masks, units = regime_masks(list(grid.regimes), test, opened)
    batch = int(cfg["eval"]["batch_size"])
    tp = grid.throughput
    return {
        "scores": score_windows(model, test, masks, grid.target, batch, device),
        "regime_units": units,
        "complexity": measure_complexity(
            model, test, device, tp["batch_size"] or batch, tp["warmup"], tp["batches"]
        ),
        "uses_future_observed": bool(test.uses_future_observed),
    }


def score_cell(
    cell: Cell, grid: GridSpec, scoring: str, sources: SourceCache | None = None
) -> dict[str, Any]:
    """Measure the cell (:func:`measure_cell`); write and return its cell.json content."""
    measured = measure_cell(cell, grid, sources or SourceCache())
    result = {
        "cell": cell.id,
        "backbone": cell.backbone,
        "backbone_name": cell.backbone_name,
        "fusion": cell.fusion,
        "channels": cell.channels,
        "policy": cell.policy,
        "forcings": list(cell.forcings),
        "uses_future_observed": measured["uses_future_observed"],
        "scores": measured["scores"],
        "regime_units": measured["regime_units"],
        "complexity": measured["complexity"],
        "config_hash": cell.config_hash,
        "scoring_hash": scoring,
        "geostl": __version__,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": cell.config,
    }
    _write_json(cell.run_dir / RESULT_FILE, result)
    return result


def _train_cell(
    cell: Cell, grid: GridSpec, state: str, progress: bool | None, sources: SourceCache
) -> None:
    from geostl.commands.run import train

    run = cell.run_dir
    resume = None
    if state == "resume":
        resume = run / "last.pt"
    elif run.exists():
        shutil.rmtree(run)
    train(cell.config, resume, progress, grid.figures, sources(cell.config))
    _write_json(run / TRAINED_FILE, {"config_hash": cell.config_hash})


def list_cells(grid: GridSpec) -> list[tuple[Cell, str, str]]:
    """Every cell with its state and the reason (nothing is run)."""
    scoring = scoring_hash(grid)
    return [(cell, *cell_state(cell, scoring)) for cell in expand_cells(grid)]


def run_grid(
    grid: GridSpec,
    cfg: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    say: Say = print,
) -> GridReport:
    """Run (or resume) every cell of ``grid``, then write ``table.md/.csv/.json``.

    Args:
        grid: the resolved grid.
        cfg: the whole grid config, saved as ``grid.yaml`` in the grid directory.
        progress: tqdm bars in training.
        say: where progress lines go.

    Returns:
        A :class:`GridReport`; ``report.ok`` is False when a cell failed.
    """
    cells = expand_cells(grid)
    root = grid_dir(grid)
    root.mkdir(parents=True, exist_ok=True)
    if cfg is not None:
        from geostl.runconfig import save_config

        save_config(cfg, root / "grid.yaml")
    scoring = scoring_hash(grid)
    report = GridReport(cells)
    sources = SourceCache()
    say(f"grid: {len(cells)} cells in {root}")
    for i, cell in enumerate(cells, 1):
        head = f"[{i}/{len(cells)}] {cell.id}"
        try:
            state, why = cell_state(cell, scoring)
            report.actions[cell.id] = state
            say(f"{head}: {state} ({why})")
            if state == "done":
                report.results[cell.id] = _read_json(cell.run_dir / RESULT_FILE) or {}
                continue
            if state in ("new", "changed", "resume"):
                _train_cell(cell, grid, state, progress, sources)
            report.results[cell.id] = score_cell(cell, grid, scoring, sources)
            s = report.results[cell.id]["scores"]
            say(f"{head}: RMSE {s['rmse']:.4g} {s['units']} over {s['n_windows']} test windows")
        except Exception as err:  # noqa: BLE001 - one failed cell must not stop the others
            why = f"{type(err).__name__}: {err}"
            report.failures[cell.id] = why
            say(f"{head}: FAILED: {why}")
            print(f"--- traceback of cell {cell.id} ---", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
    finished = [report.results[c.id] for c in cells if c.id in report.results]
    test = grid.base["data"]["splits"]["test"]
    notes = table_notes(
        finished,
        grid.regimes,
        grid.schema.forcing_names,
        grid.schema.targets,
        f"[{test['start']}, {test['end']})",
        str(root),
    )
    title = f"geostl grid {root.name}: {len(finished)} of {len(cells)} cells"
    report.tables = write_tables(root, finished, grid.regimes, notes, report.failures, title)
    say(f"grid: wrote {', '.join(str(p) for p in report.tables.values())}")
    if report.failures:
        say(f"grid: {len(report.failures)} cell(s) failed: {', '.join(report.failures)}")
    return report
