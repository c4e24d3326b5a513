"""The epoch log of a run: JSONL and CSV files rewritten from the history, and TensorBoard."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOG_FIELDS = (
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "lr",
    "teacher_forcing",
    "seconds",
    "complete",
)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_epoch_log(run_dir: str | os.PathLike, history: Sequence[dict[str, Any]]) -> None:
    """Write ``epochs.jsonl`` (one JSON object per epoch) and ``epochs.csv`` in ``run_dir``.

    Each row: epoch (1-based), step (optimisation steps so far), train_loss and val_loss (masked
    MSE in normalised units), lr (at the end of the epoch), teacher_forcing (last probability
    used), seconds (wall time of the epoch incl. validation), complete (False when the time
    budget cut the epoch short).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: row.get(k) for k in LOG_FIELDS}, allow_nan=True) for row in history]
    _replace(run_dir / "epochs.jsonl", "".join(line + "\n" for line in lines))
    tmp = run_dir / ".epochs.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k) for k in LOG_FIELDS})
    os.replace(tmp, run_dir / "epochs.csv")


class TensorBoard:
    """Scalars and figures to TensorBoard in ``run_dir/tensorboard`` when it imports (the
    ``tensorboard`` extra); otherwise nothing. Open with ``tensorboard --logdir RUN/tensorboard``.

    Written by the Trainer: ``train/loss_step`` and ``train/lr`` every ``train.log_every``
    steps; ``epoch/train_loss``, ``epoch/val_loss``, ``epoch/lr`` and
    ``val_by_lead/lead_NN`` (the validation criterion at lead NN, normalised units) every
    epoch; ``val/forecast_maps`` (truth, forecast and error of the first validation window,
    physical units) every epoch for a Forecaster.
    """

    def __init__(self, run_dir: str | os.PathLike, enabled: bool = True) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is an optional extra
            return
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def scalar(self, name: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(name, value, step)

    @property
    def active(self) -> bool:
        """True when TensorBoard imported and this process writes."""
        return self.writer is not None

    def figure(self, name: str, figure: Any, step: int) -> None:
        """A matplotlib figure as an image (closed afterwards)."""
        if self.writer is not None:
            self.writer.add_figure(name, figure, step, close=True)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def format_seconds(seconds: float) -> str:
    """``75`` -> ``1m15s``, ``3725`` -> ``1h02m``; under a minute ``42s``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class TrainLog:
    """The text log of a run: ``run_dir/train.log`` (appended, so a resumed run continues it),
    each line prefixed with its UTC time; the same lines on stderr when ``echo``.

    ``enabled=False`` (other DDP ranks) writes nothing.
    """

    def __init__(self, run_dir: str | os.PathLike, echo: bool, enabled: bool = True) -> None:
        self.path = Path(run_dir) / "train.log"
        self.echo = echo and enabled
        self._file = None
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def line(self, text: str) -> None:
        """Write one line (and echo it)."""
        import datetime as dt
        import sys

        if self._file is None:
            return
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        self._file.write(f"{stamp} {text}\n")
        if self.echo:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
