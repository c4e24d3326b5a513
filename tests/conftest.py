"""Shared fixtures: the real-data folder ``../shared/data`` beside the repository, when present.

See tests/README.md for the files the real-data tests read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geostl.allocator import tune_allocator

# the test process allocates like the geostl command does (see geostl.allocator)
tune_allocator()


def shared_data_dir() -> Path:
    """``<repo>/../shared/data`` or ``$GEOSTL_SHARED_DATA``; may not exist."""
    env = os.environ.get("GEOSTL_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def _present(root: Path, rel: str) -> bool:
    return any(root.glob(rel)) if any(ch in rel for ch in "*?[") else (root / rel).exists()


def skip_reason(files: tuple[str, ...], what: str, root: Path | None = None) -> str | None:
    """Why a test needing ``files`` (relative to the data folder) cannot run, or None if it can."""
    root = shared_data_dir() if root is None else root
    missing = [f for f in files if not _present(root, f)] if root.is_dir() else list(files)
    if not root.is_dir() and not files:
        missing = ["."]
    if not missing:
        return None
    named = ", ".join(f"../shared/data/{f}" for f in missing)
    return (
        f"needs {named} ({what or 'real-data sample'}; folder looked up: {root}, "
        "or set GEOSTL_SHARED_DATA; see tests/README.md)"
    )


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The real-data folder; the test is skipped, naming what it needs, when that is absent.

    A test states the files it reads (relative to the folder; glob patterns allowed) with
    ``@pytest.mark.shared_files("tec/ionex/uqrg1150.19i.gz", what="UQRG IONEX file")``.
    """
    marker = request.node.get_closest_marker("shared_files")
    files = tuple(marker.args) if marker else ()
    what = marker.kwargs.get("what", "") if marker else ""
    reason = skip_reason(files, what)
    if reason:
        pytest.skip(reason)
    return shared_data_dir()


#: a ConvLSTM trained for one short epoch on the built-in TEC sample: the checkpoint the
#: forecasting and scoring tests share (tests/test_forecast.py, tests/test_score_datasets.py)
TINY_TEC_OVERRIDES = (
    "train.epochs=1",
    "train.max_minutes=null",
    "train.batch_size=4",
    "train.max_steps_per_epoch=4",
    "model.backbone.num_hidden=[8]",
    # a direct forecast: a model starting from a baseline would keep its untrained (epoch 0)
    # state here, which ignores the drivers the forecasting tests follow
    "model.baseline=none",
    # the train split covers every time of day the test windows need for the climatology
    "data.splits.train={start: '2019-04-25T00:00', end: '2019-04-25T16:00'}",
    "data.splits.val={start: '2019-04-25T21:00', end: '2019-04-26T03:00'}",
    "data.splits.test={start: '2019-04-26T08:00', end: '2019-04-26T16:00'}",
    "eval.baselines=[persistence]",
)


@pytest.fixture(scope="session")
def tiny_tec_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.pt of configs/tec_convlstm.yaml with :data:`TINY_TEC_OVERRIDES` (about 10 s)."""
    from geostl.commands.run import train
    from geostl.runconfig import load_config

    out = tmp_path_factory.mktemp("tiny_tec")
    config = Path(__file__).resolve().parents[1] / "configs" / "tec_convlstm.yaml"
    cfg = load_config([config], [f"run.dir={out}", "run.name=tiny", *TINY_TEC_OVERRIDES])
    return train(cfg, figures=False) / "best.pt"
