"""The run-config schema of the gap-filling task: the ONE place its keys are declared.

The ``run`` and ``train`` sections are the Forecaster runs' own (``RUN_SPEC``), so the Trainer
reads them unchanged; ``task``, ``data``, ``model`` and ``eval`` are the task's::

    task: gapfill
    data:
      sample: t2m            built-in sample (geostl.datasets.sample), variable of the same name
      crop: [32, 48]         rows, columns kept from the north-west corner (tiles must cover it)
      tile: [16, 16]         tile rows, columns (the model sees one tile)
      window: 7              days per sample (periods M)
      fraction: 0.5          share of hours hidden by the cloud masks, in (0, 1)
      scale: [3, 2, 2]       cloud correlation lengths (hours, rows, columns)
      splits: {train: [1, 17], val: [18, 24], test: [25, 31]}   days of the month, inclusive
      train_windows: 20000   distinct (tile, start day, cloud mask) draws of the train split
    model: {embed_dim, patch, hidden, overlap, spatial_depth, num_heads, dropout}
    eval: {batch_size, figures}

The validation and test days are scored under ONE fixed cloud mask of the whole month drawn
from ``train.seed`` (so ``geostl test`` reproduces the metrics); training windows draw fresh
masks from ``(train.seed + 1, index)``.
"""

from __future__ import annotations

from typing import Any

from geostl.runconfig.spec import RUN_SPEC, Field, Section

__all__ = ["GAPFILL_SPEC", "check_gapfill_data"]


def _f(kind: str, default: Any, **kw: Any) -> Field:
    return Field(kind, default, **kw)


GAPFILL_SPEC = Section(
    {
        "task": _f("str", "gapfill", choices=("gapfill",)),
        "run": RUN_SPEC.keys["run"],
        "data": Section(
            {
                "sample": _f("str", "t2m"),
                "crop": _f("list", [32, 48], items="int"),
                "tile": _f("list", [16, 16], items="int"),
                "window": _f("int", 7, minimum=1),
                "fraction": _f("float", 0.5, minimum=0, exclusive_min=True, maximum=1),
                "scale": _f("list", [3.0, 2.0, 2.0], items="float"),
                "splits": Section(
                    {
                        "train": _f("list", [1, 17], items="int"),
                        "val": _f("list", [18, 24], items="int"),
                        "test": _f("list", [25, 31], items="int"),
                    }
                ),
                "train_windows": _f("int", 20000, minimum=1),
            }
        ),
        "model": Section(
            {
                "embed_dim": _f("int", 32, minimum=1),
                "patch": _f("list", [1, 4, 4], items="int"),
                "hidden": _f("int", 64, minimum=1),
                "overlap": _f("int", 1, minimum=0),
                "spatial_depth": _f("int", 1, minimum=1),
                "num_heads": _f("int", 4, minimum=1),
                "dropout": _f("float", 0.0, minimum=0, maximum=1),
            }
        ),
        "train": RUN_SPEC.keys["train"],
        "eval": Section(
            {
                "batch_size": _f("int", 8, minimum=1),
                "figures": _f("bool", True),
            }
        ),
    },
    required=True,
)


def check_gapfill_data(data: dict[str, Any], where: str = "data") -> None:
    """The cross-key rules of ``data`` (lengths, ranges, split order); ValueError names the key."""
    for key, n in (("crop", 2), ("tile", 2), ("scale", 3)):
        if len(data[key]) != n:
            raise ValueError(f"{where}.{key}: expected {n} numbers, got {data[key]}")
    if data["fraction"] >= 1.0:
        raise ValueError(f"{where}.fraction: expected a value in (0, 1), got {data['fraction']}")
    (H, W), (h, w) = data["crop"], data["tile"]
    if min(h, w) < 1 or H % h or W % w:
        raise ValueError(f"{where}.tile {data['tile']}: must divide {where}.crop {data['crop']}")
    last = 0
    for split in ("train", "val", "test"):
        days = data["splits"][split]
        if len(days) != 2 or days[0] > days[1] or days[0] <= last:
            raise ValueError(
                f"{where}.splits.{split}: expected [first, last] days after the previous split "
                f"(chronological train < val < test, no overlap), got {days}"
            )
        last = days[1]
        if days[1] - days[0] + 1 < data["window"]:
            raise ValueError(
                f"{where}.splits.{split} {days}: shorter than {where}.window "
                f"({data['window']} days)"
            )
    for split in ("val", "test"):
        first, end = data["splits"][split]
        if (end - first + 1) % data["window"]:
            raise ValueError(
                f"{where}.splits.{split} {[first, end]}: its length must be a multiple of "
                f"{where}.window ({data['window']}) so that every day is scored once"
            )
