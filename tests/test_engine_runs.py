"""Runs a user can follow and continue: train.log and its stderr lines, resume with more
epochs, refused resume changes, Ctrl-C and a full disk keep a loadable checkpoint, CLI errors."""

from __future__ import annotations

import errno
import re

import pytest
import torch

from engine_toy import tec_datasets, tiny_model
from geostl.engine import Trainer, load_checkpoint

TRAIN = {
    "epochs": 3,
    "batch_size": 4,
    "val_batch_size": 8,
    "max_steps_per_epoch": 3,
    "lr": 0.003,
    "schedule": "constant",
    "warmup_steps": 2,
    "seed": 3,
    "log_every": 2,
    "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.15, "min": 0.1},
}


def _trainer(run_dir, train=TRAIN, resume=None, seed=0, quiet=False, progress=None):
    ds, _, data_cfg = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=seed, dropout=0.3)
    cfg = {"data": data_cfg, "run": {"name": "toy"}, "model": {"backbone": {"name": "tiny"}}}
    trainer = Trainer(
        model, ds, train, {}, run_dir, cfg, progress=progress, resume=resume, quiet=quiet
    )
    return model, trainer


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_step_log_goes_to_train_log_and_to_stderr_without_a_tty(tmp_path, capsys):
    _, trainer = _trainer(tmp_path / "run")
    trainer.fit()
    err = capsys.readouterr().err  # pytest's stderr is no terminal: the lines are echoed
    log = (tmp_path / "run" / "train.log").read_text()
    lines = log.splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line) for line in lines)
    assert "run toy: tiny" in lines[0] and "3 epochs x 3 steps = 9 steps of batch 4" in lines[0]
    steps = [line for line in lines if " step " in line]
    assert [int(re.search(r"step (\d+)/9", s).group(1)) for s in steps] == [2, 4, 6, 8]
    assert all(re.search(r"loss \S+ lr \S+ [\d.]+ samples/s eta \S+", s) for s in steps)
    assert sum(" epoch " in line and " val " in line for line in lines) == 3
    assert "end: epochs after 9 steps" in lines[-1]
    for line in lines:  # stderr has the same lines, without the time stamps
        assert line[20:] in err


def test_quiet_writes_the_log_and_nothing_on_stderr(tmp_path, capsys):
    _, trainer = _trainer(tmp_path / "run", train={**TRAIN, "epochs": 1}, quiet=True)
    trainer.fit()
    assert capsys.readouterr().err == ""
    assert "end: epochs after 3 steps" in (tmp_path / "run" / "train.log").read_text()


def test_a_budget_run_says_its_steps_depend_on_the_machine(tmp_path):
    _, trainer = _trainer(tmp_path / "run", train={**TRAIN, "max_minutes": 1e-9}, quiet=True)
    trainer.fit()
    text = (tmp_path / "run" / "train.log").read_text()
    assert "train.max_minutes = 1e-09" in text and "depend on the machine" in text


def test_resume_with_more_epochs_ends_where_an_uninterrupted_run_ends(tmp_path):
    """2 epochs, then --resume with train.epochs=3: bit-identical to 3 epochs in one go (the
    constant schedule does not depend on the run's length, so the rebuilt one is the same)."""
    full, t_full = _trainer(tmp_path / "full")
    s_full = t_full.fit()
    short, t_short = _trainer(tmp_path / "short", train={**TRAIN, "epochs": 2})
    t_short.fit()
    assert not _same_weights(full, short)
    resumed, t_res = _trainer(
        tmp_path / "short", resume=tmp_path / "short" / "last.pt", seed=99, quiet=True
    )
    s_res = t_res.fit()
    assert s_res["global_step"] == 9 and _same_weights(full, resumed)
    assert [r["val_loss"] for r in s_res["history"]] == [r["val_loss"] for r in s_full["history"]]
    log = (tmp_path / "short" / "train.log").read_text()
    assert "train.epochs 2 -> 3: the constant schedule rebuilt for 9 steps" in log


def test_resume_with_more_epochs_rebuilds_a_onecycle_schedule(tmp_path):
    """PyTorch's OneCycleLR refuses to step past its total; the rebuilt one spans the new
    length and stands at the checkpoint's step."""
    train = {**TRAIN, "schedule": "onecycle", "warmup_steps": 0, "epochs": 1}
    _, t1 = _trainer(tmp_path / "r", train=train, quiet=True)
    t1.fit()
    model, t2 = _trainer(
        tmp_path / "r", train={**train, "epochs": 3}, resume=tmp_path / "r" / "last.pt", quiet=True
    )
    s = t2.fit()
    assert s["global_step"] == 9 and s["epochs_completed"] == 3
    lrs = [r["lr"] for r in s["history"]]
    expect = torch.optim.lr_scheduler.OneCycleLR(
        torch.optim.Adam([torch.zeros(1, requires_grad=True)]), max_lr=0.003, total_steps=9
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(9):
            expect.step()
    assert lrs[-1] == pytest.approx(expect.get_last_lr()[0], rel=1e-9)


@pytest.mark.parametrize(
    ("change", "key"),
    [({"lr": 0.01}, "train.lr"), ({"batch_size": 2}, "train.batch_size")],
)
def test_a_resume_that_changes_a_fixed_key_is_refused_naming_it(tmp_path, change, key):
    _, t1 = _trainer(tmp_path / "r", train={**TRAIN, "epochs": 1}, quiet=True)
    t1.fit()
    _, t2 = _trainer(
        tmp_path / "r", train={**TRAIN, **change}, resume=tmp_path / "r" / "last.pt", quiet=True
    )
    with pytest.raises(ValueError, match=re.escape(key)):
        t2.fit()


def test_ctrl_c_writes_a_loadable_last_pt_and_resume_continues_it(tmp_path, capsys):
    full, t_full = _trainer(tmp_path / "full", quiet=True)
    t_full.fit()
    model, trainer = _trainer(tmp_path / "cut")
    calls = {"n": 0}
    real_step = torch.optim.Adam.step

    def interrupted_step(self, *args, **kwargs):  # Ctrl-C during the 5th optimiser step
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", interrupted_step)
        with pytest.raises(KeyboardInterrupt):
            trainer.fit()
    ckpt = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert ckpt["progress"]["global_step"] == 4 and ckpt["progress"]["epoch_step"] == 1
    assert "interrupted at step 4" in capsys.readouterr().err
    resumed, t_res = _trainer(tmp_path / "cut", resume=tmp_path / "cut" / "last.pt", quiet=True)
    assert t_res.fit()["global_step"] == 9
    # the interrupted step's RNG draws are replayed from the checkpoint's state, so the
    # result is a complete, loadable run; it is not claimed bit-identical mid-epoch
    assert resumed.state_dict().keys() == full.state_dict().keys()


def test_a_full_disk_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    _, t1 = _trainer(tmp_path / "r", train={**TRAIN, "epochs": 1}, quiet=True)
    t1.fit()
    before = (tmp_path / "r" / "last.pt").read_bytes()
    _, t2 = _trainer(tmp_path / "r", resume=tmp_path / "r" / "last.pt", quiet=True)
    real_save = torch.save

    def full_disk(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "save", full_disk)
        with pytest.raises(OSError, match="could not write checkpoint .*last.pt: No space left"):
            t2.fit()
    assert torch.save is real_save
    assert (tmp_path / "r" / "last.pt").read_bytes() == before
    assert load_checkpoint(tmp_path / "r" / "last.pt")["progress"]["epoch"] == 1
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.endswith(".tmp")]


def test_cli_errors_for_a_missing_device_and_an_unwritable_run_folder(tmp_path, capsys):
    from geostl.cli import main

    if not torch.cuda.is_available():
        args = ["train.device=cuda", "train.epochs=1", "train.max_steps_per_epoch=1"]
        rc = main(["train", "--config", "configs/tec_convlstm.yaml", f"run.dir={tmp_path}", *args])
        err = capsys.readouterr().err
        assert rc == 2 and "train.device: 'cuda' asked but CUDA is not available" in err
        assert "Traceback" not in err
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    rc = main(["train", "--config", "configs/tec_convlstm.yaml", f"run.dir={blocker}"])
    err = capsys.readouterr().err
    assert rc == 2 and f"run folder {blocker}" in err and "not writable" in err
    assert "run.dir=PATH" in err and "Traceback" not in err


def test_tensorboard_gets_step_loss_per_lead_validation_and_the_forecast_figure(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, trainer = _trainer(tmp_path / "run", quiet=True)
    trainer.fit()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    t_out = trainer.datasets["val"].t_out
    assert {"train/loss_step", "train/lr", "epoch/val_loss"} <= scalars
    assert {f"val_by_lead/lead_{t:02d}" for t in range(1, t_out + 1)} <= scalars
    # the per-lead values pool back to the epoch's validation loss (equal counts per lead here)
    last = [events.Scalars(f"val_by_lead/lead_{t:02d}")[-1].value for t in range(1, t_out + 1)]
    val = events.Scalars("epoch/val_loss")[-1].value
    assert sum(last) / t_out == pytest.approx(val, rel=1e-5)
    images = events.Images("val/forecast_maps")
    assert len(images) == len(trainer.history) and images[-1].width > 300
