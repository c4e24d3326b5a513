"""Worker for the 2-process test of the per-variable tables and the SVQ code usage, run under
``torchrun --nproc_per_node 2``.

Usage: ``python run_variables_ddp_worker.py WB_ROOT OUT_DIR``. Every rank builds the same tiny
SimVP+SVQ (fixed seed) on the generated mv_4_4_s6 files;
:func:`geostl.commands.run.evaluate_and_report`
scores the test windows sharded over the ranks and rank 0 writes OUT_DIR/ddp/metrics.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from geostl.commands.run import evaluate_and_report, prepare  # noqa: E402
from geostl.engine import init_distributed, shutdown_distributed  # noqa: E402
from geostl.models import build_forecaster, meta_from_dataset  # noqa: E402
from test_run_variables import SVQ_OPTIONS, _config  # noqa: E402


def main(root: Path, out: Path) -> None:
    info = init_distributed("cpu")
    assert info.world_size == 2, info
    cfg = _config(root, out, SVQ_OPTIONS)
    sources, datasets = prepare(cfg)
    torch.manual_seed(0)
    model = build_forecaster(cfg["model"], meta_from_dataset(datasets["train"]))
    evaluate_and_report(model, datasets, sources, cfg, out / "ddp", "tiny", figures=False)
    shutdown_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
