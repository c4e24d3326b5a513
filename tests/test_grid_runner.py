"""Resume, reruns and failures of ``geostl grid``, with training and scoring replaced by
recording fakes (the real ones run in test_grid_end_to_end.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import geostl.commands.run
from geostl.cli import main
from geostl.commands.grid import GridSpec, load_grid_config, run_grid
from geostl.commands.grid import runner as grid_runner
from geostl.engine import save_checkpoint
from geostl.runconfig import run_dir, save_config

REPO = Path(__file__).resolve().parents[1]

GRID = """
_base_: {base}
run: {{name: g, dir: {runs}}}
grid:
  backbones:
    convlstm: {{num_hidden: [4]}}
    simvp: {{hid_S: 4}}
  fusions: [concat]
  channels: [1, 2]
  future_forcings: [known]
"""

IDS = ["convlstm-none-C1", "convlstm-concat-C2-known", "simvp-none-C1", "simvp-concat-C2-known"]


class Fakes:
    """Replaces geostl.commands.run.train and the scoring; records the calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.trained: list[tuple[str, Path | None]] = []
        self.measured: list[str] = []
        self.fail: set[str] = set()
        monkeypatch.setattr(geostl.commands.run, "train", self.train)
        monkeypatch.setattr(grid_runner, "measure_cell", self.measure)
        monkeypatch.setattr(grid_runner.SourceCache, "__call__", lambda self, cfg: {})

    def train(self, cfg, resume=None, progress=None, figures=True, sources=None) -> Path:
        name = cfg["run"]["name"]
        self.trained.append((name, None if resume is None else Path(resume)))
        out = run_dir(cfg)
        save_config(cfg, out / "config.yaml")
        if name in self.fail:
            raise RuntimeError(f"simulated failure of {name}")
        for ckpt in ("last.pt", "best.pt"):
            save_checkpoint(out / ckpt, {"config": cfg})
        return out

    def measure(self, cell, grid, sources) -> dict:
        self.measured.append(cell.id)
        rmse = 2.0 if cell.fusion == "none" else 1.5
        regimes = {r.name: {"n_windows": 0, "mae": None, "rmse": None} for r in grid.regimes}
        return {
            "scores": {"units": "TECU", "n_windows": 3, "mse": rmse**2, "rmse": rmse,
                       "mae": 1.0, "regimes": regimes},
            "regime_units": {r.name: "nT" for r in grid.regimes},
            "complexity": {"params": 1000, "macs": 10**6, "infer_seq_per_s": 5.0,
                           "device": "cpu", "device_name": "test", "threads": 1,
                           "batch_size": 2, "warmup": 0, "batches": 1},
            "uses_future_observed": False,
        }  # fmt: skip

    def reset(self) -> None:
        self.trained.clear()
        self.measured.clear()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Fakes, Path]:
    path = tmp_path / "grid.yaml"
    path.write_text(
        GRID.format(base=REPO / "configs" / "tec_convlstm.yaml", runs=tmp_path / "runs")
    )
    return Fakes(monkeypatch), path


def run(path: Path, overrides: list[str] | None = None):
    cfg = load_grid_config([path], overrides or [])
    return run_grid(GridSpec.from_config(cfg), cfg, say=lambda text: None)


def mtimes(root: Path) -> dict[str, int]:
    return {i: (root / i / "cell.json").stat().st_mtime_ns for i in IDS}


def test_rerun_trains_and_scores_nothing(setup) -> None:
    fakes, path = setup
    report = run(path)
    assert report.ok and [c for c, _ in fakes.trained] == IDS and fakes.measured == IDS
    assert report.actions == dict.fromkeys(IDS, "new")
    root = path.parent / "runs" / "g"
    assert (root / "table.md").is_file() and (root / "grid.yaml").is_file()
    before = mtimes(root)
    fakes.reset()
    report = run(path)
    assert fakes.trained == [] and fakes.measured == []
    assert report.actions == dict.fromkeys(IDS, "done")
    assert mtimes(root) == before
    assert [r["cell"] for r in report.results.values()] == IDS


def test_changed_cell_config_reruns_only_that_cell(setup) -> None:
    fakes, path = setup
    run(path)
    fakes.reset()
    report = run(path, ["grid.backbones.simvp.hid_S=8"])
    assert [c for c, _ in fakes.trained] == ["simvp-none-C1", "simvp-concat-C2-known"]
    assert all(resume is None for _, resume in fakes.trained)  # from scratch
    assert report.actions["convlstm-none-C1"] == "done"
    assert report.actions["simvp-none-C1"] == "changed"
    cell = path.parent / "runs" / "g" / "simvp-none-C1" / "cell.json"
    assert json.loads(cell.read_text())["config"]["model"]["backbone"]["hid_S"] == 8
    # the reason names the key that changed
    cells = {c.id: c for c in report.cells}
    why = grid_runner.cell_state(cells["simvp-none-C1"], "other")[1]
    assert "scoring" in why  # trained with this config now; only the scoring differs
    fakes.reset()
    run(path)  # back to hid_S 4: those two rerun again, the others stay
    assert [c for c, _ in fakes.trained] == ["simvp-none-C1", "simvp-concat-C2-known"]


def test_changed_keys_are_reported(setup) -> None:
    fakes, path = setup
    run(path)
    cfg = load_grid_config([path], ["grid.backbones.simvp.hid_S=8", "train.lr=0.5"])
    grid = GridSpec.from_config(cfg)
    states = {c.id: (s, why) for c, s, why in grid_runner.list_cells(grid)}
    assert states["convlstm-none-C1"][0] == "changed"
    assert "train.lr" in states["convlstm-none-C1"][1]
    assert "model.backbone.hid_S" in states["simvp-none-C1"][1]
    assert "train.lr" in states["simvp-none-C1"][1]


def test_new_regime_rescores_without_training(setup) -> None:
    fakes, path = setup
    run(path)
    fakes.reset()
    report = run(path, ["grid.regimes={storm: {driver: dst, below: -50, reduce: min}}"])
    assert fakes.trained == [] and fakes.measured == IDS
    assert report.actions == dict.fromkeys(IDS, "rescore")
    assert "MAE storm" in (path.parent / "runs" / "g" / "table.md").read_text()


def test_interrupted_cells_resume_or_restart(setup) -> None:
    fakes, path = setup
    run(path)
    root = path.parent / "runs" / "g"
    # trained, not scored: only scored
    (root / IDS[0] / "cell.json").unlink()
    # interrupted training with a checkpoint of the same config: continues from last.pt
    (root / IDS[1] / "cell.json").unlink()
    (root / IDS[1] / "trained.json").unlink()
    # interrupted before any checkpoint: from scratch
    for name in ("cell.json", "trained.json", "last.pt", "best.pt"):
        (root / IDS[2] / name).unlink()
    fakes.reset()
    report = run(path)
    assert report.actions == {
        IDS[0]: "score",
        IDS[1]: "resume",
        IDS[2]: "changed",
        IDS[3]: "done",
    }
    assert fakes.trained == [(IDS[1], root / IDS[1] / "last.pt"), (IDS[2], None)]
    assert fakes.measured == IDS[:3]


def test_failed_cell_is_reported_and_others_kept(setup, capsys) -> None:
    fakes, path = setup
    fakes.fail = {"convlstm-concat-C2-known"}
    assert main(["grid", "--config", str(path)]) == 1
    out = capsys.readouterr()
    assert "convlstm-concat-C2-known: FAILED: RuntimeError: simulated failure" in out.out
    assert "traceback of cell convlstm-concat-C2-known" in out.err
    root = path.parent / "runs" / "g"
    table = json.loads((root / "table.json").read_text())
    assert [r["cell"] for r in table["rows"]] == [i for i in IDS if i != IDS[1]]
    assert table["failures"] == {IDS[1]: "RuntimeError: simulated failure of " + IDS[1]}
    assert "## Failed cells" in (root / "table.md").read_text()
    # the next run retries only the failed cell
    fakes.fail = set()
    fakes.reset()
    assert main(["grid", "--config", str(path), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in listed] == ["done", "changed", "done", "done"]
    assert main(["grid", "--config", str(path)]) == 0
    assert [c for c, _ in fakes.trained] == [IDS[1]]


def test_config_error_exits_2(setup, capsys) -> None:
    _, path = setup
    assert main(["grid", "--config", str(path), "grid.channels=[1,99]"]) == 2
    assert "grid.channels[1]" in capsys.readouterr().err


def test_config_hash_ignores_keys_at_their_default() -> None:
    """A later geostl that adds an option with a default must not make finished cells look
    changed; a value that differs from the default still does."""
    from geostl.commands.grid.cells import config_hash
    from geostl.runconfig import RUN_SPEC, fill_defaults

    cfg = fill_defaults(
        {
            "run": {"name": "a"},
            "data": {"sources": {}, "schema": {}, "splits": {}, "window": {}},
            "model": {"backbone": {"name": "simvp", "hid_S": 8}},
            "train": {"lr": 3e-4},
        },
        RUN_SPEC,
    )
    older = {**cfg, "train": {k: v for k, v in cfg["train"].items() if k != "warmup_epochs"}}
    assert config_hash(older) == config_hash(cfg)
    assert config_hash({**cfg, "run": {"name": "b", "dir": "x"}}) == config_hash(cfg)
    assert config_hash({**cfg, "train": {**cfg["train"], "warmup_epochs": 2}}) != config_hash(cfg)
    assert config_hash({**cfg, "train": {**cfg["train"], "lr": 1e-3}}) != config_hash(cfg)
    bigger = {"name": "simvp", "hid_S": 16}
    assert config_hash({**cfg, "model": {**cfg["model"], "backbone": bigger}}) != config_hash(cfg)


def test_cells_hashed_by_an_older_rule_are_still_done(setup) -> None:
    """cell.json and trained.json written with another hash of the same config (an older
    geostl): the stored config decides, nothing retrains."""
    fakes, path = setup
    run(path)
    root = path.parent / "runs" / "g"
    for cell_id in IDS:
        for name in ("cell.json", "trained.json"):
            f = root / cell_id / name
            doc = json.loads(f.read_text())
            doc["config_hash"] = "0123456789abcdef"
            f.write_text(json.dumps(doc))
    fakes.reset()
    report = run(path)
    assert fakes.trained == [] and report.actions == dict.fromkeys(IDS, "done")


def test_changed_keys_leave_out_keys_added_at_their_default() -> None:
    old = {"run": {"name": "a"}, "train": {"lr": 1e-3}, "model": {"backbone": {"name": "x"}}}
    new = {
        "run": {"name": "b"},
        "train": {"lr": 1e-3, "warmup_epochs": 0, "criterion": "mae"},
        "model": {"backbone": {"name": "x"}},
    }
    assert grid_runner.changed_keys(old, new) == ["train.criterion"]
