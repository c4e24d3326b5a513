"""train.precision: the resolved format per device, its errors, bf16 autocast really applied
in a CPU training run, and train.compile (inductor on the CPU) training like eager mode."""

from __future__ import annotations

import pytest
import torch

from engine_toy import tec_datasets, tiny_model
from geostl.engine import Trainer
from geostl.engine.precision import resolve_precision

CPU = torch.device("cpu")
TRAIN = {"epochs": 1, "batch_size": 4, "val_batch_size": 8, "max_steps_per_epoch": 3,
         "lr": 0.003, "schedule": "constant", "seed": 5, "device": "cpu"}  # fmt: skip


def test_auto_is_fp32_on_a_cpu_and_the_older_amp_key_is_bf16():
    assert resolve_precision("auto", CPU).name == "fp32"
    assert resolve_precision("auto", CPU, amp=True).name == "bf16"
    assert resolve_precision("bf16", CPU).grad_scaler() is None
    assert resolve_precision("fp32", CPU).autocast is not None


@pytest.mark.parametrize(
    "requested, amp, words",
    [("fp16", False, ["train.precision: fp16 needs a CUDA device", "bf16"]),
     ("fp32", True, ["train.amp", "train.precision: fp32"]),
     ("half", False, ["train.precision", "'half'"])],
)  # fmt: skip
def test_formats_a_device_cannot_run_are_refused_naming_the_key(requested, amp, words):
    with pytest.raises(ValueError) as err:
        resolve_precision(requested, CPU, amp=amp)
    assert all(w in str(err.value) for w in words), str(err.value)


def _fit(run_dir, **train):
    ds, _, data_cfg = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=1)
    dtypes: list[torch.dtype] = []
    model.enc.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    cfg = {"data": data_cfg, "run": {"name": "p"}, "model": {"backbone": {"name": "tiny"}}}
    trainer = Trainer(model, ds, {**TRAIN, **train}, {}, run_dir, cfg, progress=False,
                      tensorboard=False)  # its figure is drawn in float32  # fmt: skip
    return trainer, trainer.fit(), model, dtypes


def test_bf16_autocast_runs_the_convolutions_in_bfloat16_and_keeps_float32_weights(tmp_path):
    trainer, summary, model, dtypes = _fit(tmp_path / "bf16", precision="bf16")
    assert trainer.precision.name == "bf16"
    assert dtypes and set(dtypes) == {torch.bfloat16}  # training and validation steps
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert summary["global_step"] == 3 and torch.isfinite(torch.tensor(summary["best_val_loss"]))
    assert ", bf16; torch" in (tmp_path / "bf16" / "train.log").read_text().splitlines()[0]
    _, fp32, _, dtypes32 = _fit(tmp_path / "fp32", precision="fp32")
    assert set(dtypes32) == {torch.float32}
    # the same run in bfloat16 differs from float32 by bfloat16's rounding, not more
    assert summary["best_val_loss"] == pytest.approx(fp32["best_val_loss"], rel=0.05)


def test_fp16_on_a_cpu_stops_before_training_with_the_key(tmp_path):
    with pytest.raises(ValueError, match="train.precision: fp16 needs a CUDA device"):
        _fit(tmp_path / "fp16", precision="fp16")
    assert not (tmp_path / "fp16" / "last.pt").exists()


@pytest.mark.slow
def test_compiled_training_equals_eager_training(tmp_path):
    """train.compile: inductor (C++ on the CPU) gives the eager run's losses to float32
    rounding: the compiled module trains the same parameters."""
    from torch._dynamo.utils import counters

    _, eager, _, _ = _fit(tmp_path / "eager", precision="fp32")
    counters.clear()
    _, compiled, _, _ = _fit(tmp_path / "compiled", precision="fp32", compile=True)
    assert counters["stats"]["unique_graphs"] >= 1  # compiled, not the eager fallback
    e = [h["train_loss"] for h in eager["history"]]
    c = [h["train_loss"] for h in compiled["history"]]
    assert c == pytest.approx(e, rel=1e-4)
    assert compiled["best_val_loss"] == pytest.approx(eager["best_val_loss"], rel=1e-4)


@pytest.mark.slow
def test_a_graph_that_cannot_compile_falls_back_to_eager(tmp_path, monkeypatch):
    """Inductor failing at the first call (no C++ compiler, an unsupported operator): the run
    trains eagerly instead of stopping, with the eager run's result."""
    import torch._inductor.compile_fx as compile_fx_module
    from torch._dynamo.utils import counters

    def fail(*args, **kwargs):
        raise RuntimeError("no C++ compiler here")

    monkeypatch.setattr(compile_fx_module, "compile_fx", fail)
    torch._dynamo.reset()
    _, eager, _, _ = _fit(tmp_path / "eager", precision="fp32")
    counters.clear()
    _, fallback, _, _ = _fit(tmp_path / "fallback", precision="fp32", compile=True)
    torch._dynamo.reset()
    assert counters["stats"]["unique_graphs"] == 0  # nothing compiled: the eager fallback ran
    assert fallback["global_step"] == 3
    assert fallback["best_val_loss"] == pytest.approx(eager["best_val_loss"], rel=1e-5)
