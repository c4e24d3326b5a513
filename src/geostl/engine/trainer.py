"""``Trainer``: seeded, resumable training with validation, early stopping and checkpoints.

One epoch = the train split in an order seeded by ``(train.seed, epoch)`` (sharded over DDP
ranks), at most ``max_steps_per_epoch`` optimisation steps. Each step: forward with the
scheduled-sampling probability as ``teacher_forcing``, the masked ``train.criterion`` (MSE,
MAE, or the CRPS / NLL of a ``model.output: gaussian`` forecast) + aux losses, backward (with
GradScaler under CUDA AMP), optional gradient-norm clipping, optimiser step, learning-rate
schedule step. After each epoch: validation loss (the masked criterion in normalised units
pooled over every valid target element of the val split), ``last.pt`` and, when it improved,
``best.pt``, the epoch log (``epochs.jsonl`` / ``epochs.csv``, TensorBoard when installed),
early stopping.

A task model that gives ``loss(batch) -> (loss, diagnostics)`` (see :func:`has_own_loss`) is
trained and validated with that loss instead of the forward + ``train.criterion``.

Resume (``Trainer.resume(path)`` or ``resume=path``) restores weights, optimiser, schedule,
scaler, progress and RNG states, and continues with the same data order: a run interrupted
after an epoch and resumed ends with the same weights as an uninterrupted one. A time budget
(``max_minutes``) stops after the step where it runs out; that epoch is validated, logged
(``complete`` false) and checkpointed, and a resume continues it from the next batch.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from geostl.allocator import tune_allocator
from geostl.engine.checkpoint import (
    data_description,
    load_checkpoint,
    model_description,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
    unwrap_model,
)
from geostl.engine.config import EvalConfig, TrainConfig
from geostl.engine.distributed import (
    ShardSampler,
    all_reduce_sum,
    barrier,
    dist_info,
    init_distributed,
    resolve_device,
)
from geostl.engine.loss import (
    PROBABILISTIC_CRITERIA,
    masked_error_sum,
    needs_std_message,
    total_loss,
)
from geostl.engine.optim import build_optimizer
from geostl.engine.precision import resolve_precision
from geostl.engine.runlog import TensorBoard, TrainLog, format_seconds, write_epoch_log
from geostl.engine.schedule import build_scheduler, fast_forward

#: train keys that a resume may change; any other difference from the checkpoint is refused
RESUMABLE_TRAIN_KEYS = (
    "epochs",
    "early_stopping",
    "max_minutes",
    "log_every",
    "num_workers",
    "device",
    "val_batch_size",
    "precision",
    "compile",
)


class Trainer:
    """Train a Forecaster on ``datasets["train"]``, selecting on ``datasets["val"]``.

    Args:
        model: a Forecaster (``forward(batch, teacher_forcing=None) -> {"pred", "aux_losses"}``
            with ``constructor_args()``); normalised (B, T_out, C, H, W) forecasts.
        datasets: ``{"train": WindowDataset, "val": WindowDataset, ...}``.
        train_cfg, eval_cfg: the ``train`` / ``eval`` sections (objects or plain dicts).
        run_dir: where checkpoints and logs go (rank 0 writes).
        config: the resolved run config stored in checkpoints; its ``data`` section is the
            data config stored beside the normaliser.
        progress: tqdm bars; default on when stderr is a terminal (rank 0 only).
        resume: a checkpoint path to continue from.
        tensorboard: write TensorBoard scalars when ``torch.utils.tensorboard`` imports.
        quiet: nothing on stderr (``train.log`` is still written).

    Every run appends to ``run_dir/train.log``: a summary of the run, a line every
    ``train.log_every`` steps (step, loss, learning rate, samples/s, ETA), each epoch's
    validation and the end. Without a progress bar (no terminal: a batch job, a pipe) the same
    lines go to stderr, unless ``quiet``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        datasets: Mapping[str, Any],
        train_cfg: TrainConfig | Mapping[str, Any] | None = None,
        eval_cfg: EvalConfig | Mapping[str, Any] | None = None,
        run_dir: str | Path = "runs/run",
        config: Mapping[str, Any] | None = None,
        progress: bool | None = None,
        resume: str | Path | None = None,
        tensorboard: bool = True,
        quiet: bool = False,
    ) -> None:
        for split in ("train", "val"):
            if split not in datasets:
                raise KeyError(f"Trainer: datasets needs a {split!r} split, got {sorted(datasets)}")
        tune_allocator()  # library use too: freed activations reused, not mapped again
        self.model = model
        self.datasets = dict(datasets)
        self.cfg = (
            train_cfg if isinstance(train_cfg, TrainConfig) else TrainConfig.from_dict(train_cfg)
        )
        self.eval_cfg = (
            eval_cfg if isinstance(eval_cfg, EvalConfig) else EvalConfig.from_dict(eval_cfg)
        )
        check_output_and_criterion(model, self.cfg.criterion)
        self.run_dir = Path(run_dir)
        self.config = dict(config or {})
        self.progress = progress
        self.tensorboard = tensorboard
        self.quiet = bool(quiet)
        self._resume_ckpt: dict | None = None
        # progress, restored on resume
        self.epoch = 0  # completed epochs
        self.epoch_step = 0  # steps done in the current (incomplete) epoch
        self.global_step = 0
        self.best_metric = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.history: list[dict[str, Any]] = []
        self.val_by_lead: list[float] = []
        if resume is not None:
            self.resume(resume)

    # ------------------------------------------------------------------------------------------
    def resume(self, path: str | Path) -> Trainer:
        """Continue from checkpoint ``path`` at the next :meth:`fit`."""
        ckpt = load_checkpoint(path)
        if "progress" not in ckpt or "optimizer" not in ckpt:
            raise ValueError(f"{path}: no training state to resume from (progress/optimizer)")
        self._resume_ckpt = ckpt
        p = ckpt["progress"]
        self.epoch, self.epoch_step = int(p["epoch"]), int(p["epoch_step"])
        self.global_step = int(p["global_step"])
        self.best_metric, self.best_epoch = float(p["best_metric"]), int(p["best_epoch"])
        self.bad_epochs = int(p["bad_epochs"])
        self.history = [dict(r) for r in p["history"]]
        return self

    def _checkpoint(self, optimizer, scheduler, scaler) -> dict[str, Any]:
        data_cfg = self.config.get("data")
        if isinstance(data_cfg, Mapping):
            data_cfg = {k: v for k, v in data_cfg.items()}
        return {
            "config": {
                **self.config,
                "train": self.cfg.to_dict(),
                # a task run (top-level ``task`` key) keeps its own eval section
                "eval": self.eval_cfg.to_dict()
                if "task" not in self.config
                else self.config.get("eval"),
            },
            "model": model_description(self.model),
            "data": _data_description(self.datasets["train"], data_cfg),
            "progress": {
                "epoch": self.epoch,
                "epoch_step": self.epoch_step,
                "global_step": self.global_step,
                "best_metric": self.best_metric,
                "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs,
                "history": self.history,
            },
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(),
        }

    # ------------------------------------------------------------------------------------------
    def validate(self, device: torch.device, autocast=nullcontext) -> float:
        """The training criterion (normalised units) pooled over the val split and all ranks;
        the value per lead is kept in ``val_by_lead`` (for TensorBoard)."""
        sums = validation_sums(
            self.model,
            self.datasets["val"],
            self.cfg.val_batch_size,
            device,
            autocast,
            criterion=self.cfg.criterion,
        )
        self.val_by_lead = [float(a / b) if b > 0 else math.nan for a, b in sums.tolist()]
        return pooled_loss(sums)

    def _out_of_time(self, start: float) -> bool:
        if self.cfg.max_minutes is None:
            return False
        out = (time.monotonic() - start) / 60.0 >= self.cfg.max_minutes
        if self.info.distributed:  # every rank must stop at the same step
            out = bool(all_reduce_sum(torch.tensor(float(out))) > 0)
        return out

    def _compile(self, model: torch.nn.Module) -> torch.nn.Module:
        if not hasattr(torch, "compile"):
            warnings.warn("train.compile: torch.compile is not in this torch; running eagerly",
                          stacklevel=3)  # fmt: skip
            return model
        try:
            from torch import _dynamo

            # a graph that fails to compile at its first call (no C++ compiler, an operator
            # inductor lacks) runs eagerly with dynamo's warning instead of stopping the run
            _dynamo.config.suppress_errors = True
            return torch.compile(model)
        except Exception as err:  # e.g. an unsupported Python version
            warnings.warn(f"train.compile: torch.compile failed ({err}); running eagerly",
                          stacklevel=3)  # fmt: skip
            return model

    # ------------------------------------------------------------------------------------------
    def fit(self, stop_after_epochs: int | None = None) -> dict[str, Any]:
        """Train until ``epochs``, early stopping or the time budget; returns a summary dict
        (``history``, ``best_val_loss``, ``best_epoch``, ``global_step``, ``stop_reason``).

        ``stop_after_epochs``: return (checkpoints written) after this many epochs of this
        call, as if interrupted; the schedule still spans ``train.epochs``.
        """
        cfg = self.cfg
        start = time.monotonic()
        device = resolve_device(cfg.device, _local_rank(), "train.device")
        self.precision = resolve_precision(cfg.precision, device, cfg.amp)
        self.info = init_distributed(device)
        info = self.info
        main = info.is_main
        if self._resume_ckpt is None:
            seed_everything(cfg.seed + info.rank)
        baseline_lines: list[str] = []
        fit_baseline = getattr(self.model, "fit_baseline", None)
        if self._resume_ckpt is None and self.global_step == 0 and fit_baseline is not None:
            # tables of a model.baseline (climatology: train split; blend weights: val split);
            # a resumed run takes them from its checkpoint
            baseline_lines = fit_baseline(
                self.datasets["train"], self.datasets["val"], cfg.val_batch_size
            )
        model = self.model.to(device)
        if self._resume_ckpt is not None:
            unwrap_model(model).load_state_dict(self._resume_ckpt["model"]["state_dict"])
        train_model: torch.nn.Module = model
        if cfg.compile:
            train_model = self._compile(train_model)
        # a model with its own loss(batch) is not wrapped in DDP (DDP hooks only a forward
        # call); its gradients are averaged over the ranks after backward instead
        own_loss = has_own_loss(model)
        if info.distributed and not own_loss:
            ids = [device.index] if device.type == "cuda" else None
            train_model = torch.nn.parallel.DistributedDataParallel(train_model, device_ids=ids)
        train = self.datasets["train"]
        sampler = ShardSampler(len(train), info, shuffle=True, seed=cfg.seed, pad=True)
        steps_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
        if cfg.max_steps_per_epoch is not None:
            steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
        optimizer = build_optimizer(model.parameters(), cfg)
        scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
        scaler = self.precision.grad_scaler()
        autocast = self.precision.autocast
        resumed_from: str | None = None
        if self._resume_ckpt is not None:
            ck = self._resume_ckpt
            self._check_resumable(ck)
            optimizer.load_state_dict(ck["optimizer"])
            old_epochs = int(ck["config"]["train"]["epochs"])
            if old_epochs == cfg.epochs:
                scheduler.load_state_dict(ck["scheduler"])
                resumed_from = f"resumed at step {self.global_step}"
            else:  # a longer (or shorter) run: the schedule rebuilt for the new length
                fast_forward(scheduler, min(self.global_step, cfg.epochs * steps_per_epoch))
                resumed_from = (
                    f"resumed at step {self.global_step}; train.epochs {old_epochs} -> "
                    f"{cfg.epochs}: the {cfg.schedule} schedule rebuilt for "
                    f"{cfg.epochs * steps_per_epoch} steps, continued from step {self.global_step}"
                )
            if scaler is not None and ck.get("scaler") is not None:
                scaler.load_state_dict(ck["scaler"])
            set_rng_state(ck["rng"])
            self._resume_ckpt = None
        show = (
            main
            and not self.quiet
            and (self.progress if self.progress is not None else sys.stderr.isatty())
        )
        tb = TensorBoard(self.run_dir, enabled=self.tensorboard and main)
        log = TrainLog(self.run_dir, echo=not show and not self.quiet, enabled=main)
        total_steps = cfg.epochs * steps_per_epoch
        log.line(
            self._summary_line(model, device, steps_per_epoch, total_steps)
            + (f"; {resumed_from}" if resumed_from else "")
        )
        if cfg.max_minutes is not None:
            log.line(
                f"time budget: train.max_minutes = {cfg.max_minutes:g}; the run stops when it "
                "runs out, so the number of steps (and the results) depend on the machine's speed"
            )
        for line in baseline_lines:
            log.line(line)
        if (
            resumed_from is None
            and self.global_step == 0
            and not self.history
            and getattr(unwrap_model(model), "starts_at_baseline", False)
        ):
            # the untrained model is its baseline: the candidate to beat (epoch 0)
            self.best_metric, self.best_epoch = self.validate(device, autocast), 0
            if main:
                save_checkpoint(
                    self.run_dir / "best.pt", self._checkpoint(optimizer, scheduler, scaler)
                )
            log.line(
                f"epoch 0 (untrained: the baseline it starts from): val {self.best_metric:.5g} "
                "best so far: best.pt (training replaces it only by a lower validation loss)"
            )
        stop_reason = "already complete" if self.epoch >= cfg.epochs else "epochs"
        try:
            stop_reason = self._epochs(
                train_model, model, train, sampler, optimizer, scheduler, scaler, autocast,
                device, own_loss, steps_per_epoch, total_steps, stop_after_epochs, start, show,
                tb, log, stop_reason,
            )  # fmt: skip
        except KeyboardInterrupt:
            if main:
                path = self.run_dir / "last.pt"
                save_checkpoint(path, self._checkpoint(optimizer, scheduler, scaler))
                text = (
                    f"interrupted at step {self.global_step} (epoch {self.epoch + 1}, "
                    f"{self.epoch_step} steps into it): {path} written; continue with "
                    f"--resume {path}"
                )
                log.line(text)
                if not log.echo and not self.quiet:
                    print(text, file=sys.stderr)
            tb.close()
            log.close()
            raise
        tb.close()
        best = f"{self.best_metric:.6g} at epoch {self.best_epoch}"
        log.line(
            f"end: {stop_reason} after {self.global_step} steps in "
            f"{format_seconds(time.monotonic() - start)}; best validation loss {best}"
        )
        log.close()
        return {
            "history": list(self.history),
            "best_val_loss": self.best_metric,
            "best_epoch": self.best_epoch,
            "global_step": self.global_step,
            "epochs_completed": self.epoch,
            "stop_reason": stop_reason,
        }

    def _tensorboard_epoch(self, tb: TensorBoard, model, own_loss: bool) -> None:
        """Per-lead validation scalars and, for a Forecaster, the first validation window's
        forecast maps."""
        if not tb.active:
            return
        for t, value in enumerate(self.val_by_lead):
            tb.scalar(f"val_by_lead/lead_{t + 1:02d}", value, self.global_step)
        val = self.datasets["val"]
        if own_loss or not hasattr(val, "normaliser"):
            return
        from geostl.outputs.figures import forecast_maps_figure, window_forecast

        window = window_forecast(unwrap_model(model), val, 0)
        truth, pred = window.pop("truth"), window.pop("pred")
        rows, cols = window.pop("rows"), window.pop("cols")
        figure = forecast_maps_figure(truth, pred, rows, cols, **window)
        tb.figure("val/forecast_maps", figure, self.global_step)

    def _check_resumable(self, ck: Mapping[str, Any]) -> None:
        """Refuse a resume whose train, model or data settings differ from the checkpoint's
        (other than :data:`RESUMABLE_TRAIN_KEYS`), naming the first key that does."""
        saved = ck.get("config", {})
        now = self.cfg.to_dict()
        for key, value in sorted(saved.get("train", {}).items()):
            if key in RESUMABLE_TRAIN_KEYS or key not in now:
                continue
            if _plain_equal(now[key], value):
                continue
            raise ValueError(
                f"resume: train.{key} is {now[key]!r} but the checkpoint was trained with "
                f"{value!r}; only {', '.join('train.' + k for k in RESUMABLE_TRAIN_KEYS)} may "
                "change on resume (start a new run for the others)"
            )
        for section in ("model", "data"):
            if section in saved and section in self.config:
                key = _first_difference(self.config[section], saved[section], section)
                if key is not None:
                    raise ValueError(
                        f"resume: {key} differs from the checkpoint's; the model and data of "
                        "a resumed run cannot change (start a new run)"
                    )

    def _summary_line(self, model, device, steps_per_epoch: int, total_steps: int) -> str:
        cfg = self.cfg
        n_params = sum(p.numel() for p in unwrap_model(model).parameters())
        name = self.config.get("run", {}).get("name", self.run_dir.name)
        backbone = self.config.get("model", {}).get("backbone", {})
        if isinstance(backbone, Mapping):
            backbone = backbone.get("name", "?")
        sizes = ", ".join(
            f"{len(d)} {split}" for split, d in self.datasets.items() if hasattr(d, "__len__")
        )
        return (
            f"run {name}: {backbone}, {n_params:,} parameters; windows {sizes}; "
            f"{cfg.epochs} epochs x {steps_per_epoch} steps = {total_steps} steps of batch "
            f"{cfg.batch_size}; {cfg.optimizer} lr {cfg.lr:g}, {cfg.schedule} schedule; "
            f"seed {cfg.seed}; device {device}, {self.precision.name}; torch {torch.__version__}"
        )

    def _epochs(
        self, train_model, model, train, sampler, optimizer, scheduler, scaler, autocast,
        device, own_loss, steps_per_epoch, total_steps, stop_after_epochs, start, show, tb,
        log, stop_reason,
    ) -> str:  # fmt: skip
        """The epoch loop of :meth:`fit`; returns the stop reason."""
        cfg = self.cfg
        info = self.info
        main = info.is_main
        epochs_this_call = 0
        t_steps, steps_timed, samples_timed = 0.0, 0, 0
        while self.epoch < cfg.epochs:
            t_epoch = time.monotonic()
            sampler.set_epoch(self.epoch, skip=self.epoch_step * cfg.batch_size)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.epoch)
            loader = DataLoader(
                train,
                cfg.batch_size,
                sampler=sampler,
                num_workers=cfg.num_workers,
                generator=gen,
                pin_memory=device.type == "cuda",
            )
            todo = steps_per_epoch - self.epoch_step
            bar = None
            if show:
                from tqdm.auto import tqdm

                bar = tqdm(total=todo, desc=f"epoch {self.epoch + 1}/{cfg.epochs}", leave=False)
            train_model.train()
            loss_sum, n_steps, tf, out_of_time = 0.0, 0, 0.0, False
            t_step = time.monotonic()
            for batch in loader:
                if n_steps >= todo:
                    break
                batch_size = int(next(iter(batch.values())).shape[0])
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                tf = cfg.scheduled_sampling.probability(self.global_step)  # logged: future steps
                with autocast():
                    if own_loss:  # the model's loss(batch) -> (loss, diagnostics)
                        loss, _ = unwrap_model(train_model).loss(batch)
                    else:
                        forcing = cfg.scheduled_sampling.teacher_forcing(self.global_step)
                        out = train_model(batch, teacher_forcing=forcing)
                        loss, _ = total_loss(out, batch, criterion=cfg.criterion)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"training loss is {float(loss)} at step {self.global_step} "
                        f"(epoch {self.epoch + 1}); lower train.lr or set train.grad_clip"
                    )
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if own_loss and info.distributed:
                    average_gradients(model, info.world_size)
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                self.global_step += 1
                self.epoch_step += 1
                n_steps += 1
                loss_sum += float(loss.detach())
                now = time.monotonic()
                t_steps += now - t_step
                steps_timed += 1
                samples_timed += batch_size * self.info.world_size
                t_step = now
                if self.global_step % cfg.log_every == 0:
                    step_loss = float(loss.detach())
                    tb.scalar("train/loss_step", step_loss, self.global_step)
                    tb.scalar("train/lr", float(optimizer.param_groups[0]["lr"]), self.global_step)
                    if bar is not None:
                        bar.set_postfix(loss=f"{step_loss:.4g}")
                    rate = samples_timed / t_steps if t_steps > 0 else math.nan
                    eta = (total_steps - self.global_step) * t_steps / steps_timed
                    log.line(
                        f"step {self.global_step}/{total_steps} (epoch {self.epoch + 1}/"
                        f"{cfg.epochs}) loss {step_loss:.5g} lr "
                        f"{float(optimizer.param_groups[0]['lr']):.3g} {rate:.1f} samples/s "
                        f"eta {format_seconds(eta)} (training steps only)"
                    )
                if bar is not None:
                    bar.update(1)
                if self._out_of_time(start):
                    out_of_time = True
                    break
            if bar is not None:
                bar.close()
            sums = all_reduce_sum(torch.tensor([loss_sum, float(n_steps)], dtype=torch.float64))
            train_loss = float(sums[0] / sums[1]) if sums[1] > 0 else math.nan
            val_loss = self.validate(device, autocast)
            complete = self.epoch_step >= steps_per_epoch
            epoch_number = self.epoch + 1
            if complete:
                self.epoch += 1
                self.epoch_step = 0
            improved = val_loss < self.best_metric
            if improved:
                self.best_metric, self.best_epoch, self.bad_epochs = val_loss, epoch_number, 0
            elif complete:
                self.bad_epochs += 1
            row = {
                "epoch": epoch_number,
                "step": self.global_step,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": float(optimizer.param_groups[0]["lr"]),
                "teacher_forcing": float(tf),
                "seconds": time.monotonic() - t_epoch,
                "complete": bool(complete),
            }
            self.history.append(row)
            if main:
                ckpt = self._checkpoint(optimizer, scheduler, scaler)
                save_checkpoint(self.run_dir / "last.pt", ckpt)
                if improved:
                    save_checkpoint(self.run_dir / "best.pt", ckpt)
                write_epoch_log(self.run_dir, self.history)
                for key in ("train_loss", "val_loss", "lr"):
                    tb.scalar(f"epoch/{key}", row[key], self.global_step)
                self._tensorboard_epoch(tb, model, own_loss)
                text = (
                    f"epoch {epoch_number}/{cfg.epochs}: train {train_loss:.5g} val "
                    f"{val_loss:.5g} lr {row['lr']:.3g} ({row['seconds']:.1f} s)"
                    + ("" if complete else " (cut short by train.max_minutes)")
                    + (" best so far: best.pt" if improved else "")
                )
                log.line(text)
                if show:
                    print(text, file=sys.stderr)
            barrier()
            if out_of_time:
                stop_reason = "max_minutes"
                break
            if cfg.early_stopping is not None and self.bad_epochs >= cfg.early_stopping:
                stop_reason = "early_stopping"
                break
            epochs_this_call += 1
            if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs:
                stop_reason = "stop_after_epochs"
                break
        return stop_reason


@torch.no_grad()
def validation_sums(
    model: torch.nn.Module,
    dataset,
    batch_size: int = 4,
    device: torch.device | str | None = None,
    autocast=nullcontext,
    criterion: str = "mse",
) -> torch.Tensor:
    """(L, 2) float64 sums per lead of the masked ``criterion`` (normalised units) and of the
    valid elements, over every window of ``dataset`` and all ranks (L = T_out; 1 for a model
    with its own ``loss(batch)``).

    Under DDP each rank takes a disjoint shard (no repeated windows) and the sums are
    all-reduced. The model runs in eval mode (closed loop, no teacher forcing); the global RNGs
    are not touched.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was = model.training
    model.eval()
    sampler = ShardSampler(len(dataset), dist_info(), shuffle=False, pad=False)
    loader = DataLoader(dataset, batch_size, sampler=sampler, generator=torch.Generator(),
                        pin_memory=device.type == "cuda")  # fmt: skip
    # one row per lead (every rank the same shape for the all-reduce: the dataset's t_out;
    # a plain list of samples takes it from its first batch); one row for a loss(batch) model
    leads = 1 if has_own_loss(model) else getattr(dataset, "t_out", None)
    sums = None if leads is None else torch.zeros(leads, 2, dtype=torch.float64, device=device)
    try:
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            if has_own_loss(model):
                with autocast():
                    _, diagnostics = unwrap_model(model).loss(batch)
                assert sums is not None
                sums[0] += torch.stack(
                    [diagnostics["loss_sum"].double(), diagnostics["count"].double()]
                )
                continue
            with autocast():
                out = model(batch)
            pred = out["pred"].double()
            std = out.get("pred_std")
            std = None if std is None else std.double()
            target, mask = batch["targets"].double(), batch["target_mask"]
            if sums is None:
                sums = torch.zeros(target.shape[1], 2, dtype=torch.float64, device=device)
            for t in range(target.shape[1]):
                total, count = masked_error_sum(
                    pred[:, t],
                    target[:, t],
                    mask[:, t],
                    criterion,
                    None if std is None else std[:, t],
                )
                sums[t] += torch.stack([total, count])
    finally:
        model.train(was)
    if sums is None:
        raise ValueError("validation: the val split has no window")
    return all_reduce_sum(sums)


def validation_loss(
    model: torch.nn.Module,
    dataset,
    batch_size: int = 4,
    device: torch.device | str | None = None,
    autocast=nullcontext,
    criterion: str = "mse",
) -> float:
    """Masked ``criterion`` (MSE, MAE, CRPS or NLL: the training criterion) in normalised
    units pooled over every valid target element of ``dataset`` (:func:`validation_sums` over
    all leads)."""
    return pooled_loss(validation_sums(model, dataset, batch_size, device, autocast, criterion))


def pooled_loss(sums: torch.Tensor) -> float:
    """The loss pooled over every lead of (L, 2) :func:`validation_sums`."""
    total = sums.sum(dim=0)
    if total[1] == 0:
        raise ValueError("validation: the val split has no valid target element")
    return float(total[0] / total[1])


def check_output_and_criterion(model: torch.nn.Module, criterion: str) -> None:
    """Raise a ValueError when ``train.criterion`` does not fit the model's ``model.output``.

    A probabilistic criterion (``crps``, ``nll``) needs a model that gives ``pred_std``
    (``model.output: gaussian``); a Gaussian model needs one, since with ``mse`` / ``mae`` its
    spread head would get no gradient. A model's kind of output is its ``output`` attribute
    (``"point"`` when absent); a model with its own ``loss(batch)`` is not checked.
    """
    if has_own_loss(model):
        return
    output = str(getattr(unwrap_model(model), "output", "point"))
    if criterion in PROBABILISTIC_CRITERIA and output != "gaussian":
        raise ValueError(needs_std_message(criterion))
    if output == "gaussian" and criterion not in PROBABILISTIC_CRITERIA:
        raise ValueError(
            f"model.output: gaussian needs train.criterion crps or nll, got train.criterion "
            f"{criterion}: its spread head (pred_std) would get no gradient"
        )


def has_own_loss(model: torch.nn.Module) -> bool:
    """True for a task model giving ``loss(batch) -> (loss, diagnostics)``.

    Its ``diagnostics`` must hold ``loss_sum`` and ``count`` (0-d tensors, ``loss = loss_sum /
    count``), which the validation pools over the split and the ranks. Such a model replaces
    the Forecaster's ``forward(batch) -> {"pred", "aux_losses"}`` + ``train.criterion``.
    """
    return callable(getattr(unwrap_model(model), "loss", None))


def average_gradients(model: torch.nn.Module, world_size: int) -> None:
    """All-reduce (sum) every gradient over the ranks and divide by ``world_size``."""
    for p in model.parameters():
        if p.grad is not None:
            p.grad.copy_(all_reduce_sum(p.grad) / world_size)


def _data_description(dataset: Any, data_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """A task dataset describes itself (``description(data_cfg)``); else a WindowDataset."""
    if callable(getattr(dataset, "description", None)):
        return dataset.description(data_cfg)
    return data_description(dataset, data_cfg)


def _plain_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_plain_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_plain_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    """The dotted key of the first difference between two plain configs, or None."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                return f"{where}.{k}"
            found = _first_difference(a[k], b[k], f"{where}.{k}")
            if found is not None:
                return found
        return None
    return None if _plain_equal(a, b) else where


def _local_rank() -> int:
    return dist_info().local_rank
