"""Worker for the DDP test, run under ``torchrun --nproc_per_node 2``.

Usage: ``python engine_ddp_worker.py OUT_DIR``. Every rank builds the TEC sample datasets and the
same tiny model (fixed seed); the ranks evaluate it on the val split (9 windows: uneven shards)
and rank 0 writes the tables to OUT_DIR/tables.json; then a 2-step training writes
OUT_DIR/run/last.pt (rank 0 only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_toy import tec_datasets, tiny_model  # noqa: E402
from geostl.allocator import tune_allocator  # noqa: E402
from geostl.engine import (  # noqa: E402
    Trainer,
    dist_info,
    evaluate,
    init_distributed,
    shutdown_distributed,  # noqa: E402
)

tune_allocator()


def main(out: Path) -> None:
    info = init_distributed("cpu")
    assert info.world_size == 2, info
    ds, sources, data_cfg = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=11)
    tables = evaluate(model, ds["val"], {"batch_size": 2}, sources, train=ds["train"])
    if dist_info().is_main:
        (out / "tables.json").write_text(json.dumps({k: t.to_dict() for k, t in tables.items()}))
    train = {"epochs": 1, "batch_size": 4, "max_steps_per_epoch": 2, "device": "cpu"}
    Trainer(model, ds, train, {}, out / "run", {"data": data_cfg}, progress=False).fit()
    shutdown_distributed()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
