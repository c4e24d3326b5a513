"""Training, evaluation, checkpoints and DDP for geostl Forecasters.

Public API::

    from geostl.engine import TrainConfig, EvalConfig, Trainer, evaluate, predict_windows
    trainer = Trainer(model, datasets, train_cfg, eval_cfg, run_dir, config)
    summary = trainer.fit()                      # best.pt, last.pt, epochs.jsonl/csv
    tables = evaluate(model, datasets["test"], eval_cfg, sources, train=datasets["train"])

Checkpoints (``save_checkpoint`` / ``load_checkpoint``) are plain data that load with
``torch.load(weights_only=True)``; ``build_model_from_checkpoint`` rebuilds the model.
"""

from geostl.engine.checkpoint import (
    build_model_from_checkpoint,
    load_checkpoint,
    normaliser_from_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from geostl.engine.config import EvalConfig, ScheduledSampling, TrainConfig
from geostl.engine.distributed import (
    DistInfo,
    ShardSampler,
    dist_info,
    init_distributed,
    shard_indices,
    shutdown_distributed,
)
from geostl.engine.evaluate import BASELINE_LABELS, evaluate, lead_labels, predict_windows
from geostl.engine.loss import masked_mse, masked_sse, total_loss
from geostl.engine.optim import build_optimizer
from geostl.engine.schedule import WarmupCosine, build_scheduler
from geostl.engine.trainer import Trainer, resolve_device, validation_loss

__all__ = [
    "BASELINE_LABELS",
    "DistInfo",
    "EvalConfig",
    "ScheduledSampling",
    "ShardSampler",
    "TrainConfig",
    "Trainer",
    "WarmupCosine",
    "build_model_from_checkpoint",
    "build_optimizer",
    "build_scheduler",
    "dist_info",
    "evaluate",
    "init_distributed",
    "lead_labels",
    "load_checkpoint",
    "masked_mse",
    "masked_sse",
    "normaliser_from_checkpoint",
    "predict_windows",
    "resolve_device",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "shard_indices",
    "shutdown_distributed",
    "total_loss",
    "validation_loss",
]
