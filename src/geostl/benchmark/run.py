"""``benchmark_model``: parameters, FLOPs/MACs, inference and training throughput, peak memory.

Throughput is in sequences (samples) per second: ``warmup`` untimed calls, then ``iters`` timed
calls of a batch of ``batch_size`` (CUDA synchronised around the timer), so
``sequences/s = batch_size * iters / elapsed``. Inference runs in ``torch.inference_mode`` with
the model in eval mode; a training step is forward + backward + optimizer step (Adam) with the
model in train mode. Achieved FLOP/s = FLOPs per sequence x sequences/s, shown beside the
machine's measured matrix-multiply rate (:func:`measure_matmul_flops`) of the same run.
"""

from __future__ import annotations

import copy
import platform
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from geostl import __version__
from geostl.engine.distributed import resolve_device

from .flops import FLOPS_NOTE, call_model, count_flops, default_loss
from .matmul import measure_matmul_flops, sync
from .memory import peak_memory

__all__ = ["backbone_inputs_fn", "benchmark_backbone", "benchmark_model", "resolve_device"]

InputsFn = Callable[[int], Any]


def to_device(x: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, tuple):
        return tuple(to_device(v, device) for v in x)
    if isinstance(x, list):
        return [to_device(v, device) for v in x]
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    return x


def backbone_inputs_fn(
    in_shape: tuple[int, int, int, int],
    out_channels: int,
    t_out: int,
    aux_channels: int = 0,
    train: bool = False,
    seed: int = 0,
) -> InputsFn:
    """Random inputs of the backbone contract ``backbone(x, future_aux, t_out, truth)``.

    Args:
        in_shape: ``(T_in, C_in, H, W)`` with ``C_in = out_channels + aux_channels``.
        train: also give ``truth`` (B, t_out, C_out, H, W) (scheduled sampling).

    Returns:
        ``fn(batch_size) -> (x, future_aux, t_out[, truth])`` with x (B, T_in, C_in, H, W)
        and future_aux (B, t_out, A, H, W) or None.
    """
    t_in, c_in, h, w = in_shape
    if c_in != out_channels + aux_channels:
        raise ValueError(
            f"in_shape C_in={c_in} must equal out_channels + aux_channels = "
            f"{out_channels} + {aux_channels}"
        )

    def fn(batch_size: int) -> tuple:
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(batch_size, t_in, c_in, h, w, generator=gen)
        aux = (
            torch.rand(batch_size, t_out, aux_channels, h, w, generator=gen)
            if aux_channels
            else None
        )
        if not train:
            return (x, aux, t_out)
        truth = torch.rand(batch_size, t_out, out_channels, h, w, generator=gen)
        return (x, aux, t_out, truth)

    return fn


def _timed(step: Callable[[], object], device: torch.device, warmup: int, iters: int) -> float:
    for _ in range(warmup):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    sync(device)
    return time.perf_counter() - t0


def benchmark_model(
    model: nn.Module,
    example_inputs_fn: InputsFn,
    batch_size: int,
    *,
    train_inputs_fn: InputsFn | None = None,
    loss_fn: Callable[[Any], torch.Tensor] = default_loss,
    device: str | torch.device = "auto",
    warmup: int = 3,
    iters: int = 10,
    train: bool = True,
    matmul_n: int = 2048,
    matmul_dtype: torch.dtype = torch.float32,
    name: str = "",
    input_desc: str = "",
    precision: str = "fp32",
) -> dict[str, Any]:
    """Measure a model's complexity and speed (see the module docstring).

    Args:
        model: the module; it is deep-copied, so the caller's weights and mode are untouched.
        example_inputs_fn: ``fn(batch) -> inputs`` on CPU: a tuple of positional arguments or
            one argument (e.g. a batch dict for a Forecaster). ``fn(1)`` is used for FLOPs.
        batch_size: batch of the throughput and memory measurements.
        train_inputs_fn: inputs of the training step (default ``example_inputs_fn``), e.g.
            with ``truth`` for scheduled sampling.
        loss_fn: output -> scalar for the backward pass (default: mean square of the output).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        warmup, iters: untimed and timed calls per throughput measurement.
        train: also measure the training step (FLOPs, throughput, memory).
        matmul_n, matmul_dtype: size and type of the reference matrix product; 0 skips it.
        name, input_desc: labels for the report.
        precision: ``fp32``, ``bf16`` or ``fp16`` (``train.precision``'s formats; ``auto`` as in
            training): the forward passes run under that autocast, the training step with a
            loss scaler for ``fp16``. The matmul reference stays ``matmul_dtype``.

    Returns:
        A flat JSON-ready dict: ``params``, ``flops``/``macs`` per sequence (forward) and
        ``train_flops`` (forward + backward), ``infer_seq_per_s``, ``train_seq_per_s``,
        ``infer_peak_mem_bytes``, ``train_peak_mem_bytes``, ``memory_method``,
        ``matmul_flops_per_s``, ``infer_achieved_flops_per_s`` (FLOPs x sequences/s),
        ``infer_fraction_of_matmul``, the training counterparts, and the setting (device,
        batch, warm-up, iterations, threads, versions, notes).
    """
    if batch_size < 1 or iters < 1 or warmup < 0:
        raise ValueError(
            f"batch_size and iters must be >= 1, warmup >= 0 (got {batch_size}, {iters}, {warmup})"
        )
    from geostl.allocator import tune_allocator

    tune_allocator()  # as the Trainer does: time the steps a training run takes
    dev = resolve_device(device)
    from geostl.engine.precision import resolve_precision

    prec = resolve_precision(precision, dev)
    autocast = prec.autocast
    net = copy.deepcopy(model).to(dev)
    train_fn = train_inputs_fn or example_inputs_fn
    out: dict[str, Any] = {
        "model": name or type(model).__name__,
        "input": input_desc,
        "batch_size": batch_size,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "geostl": __version__,
        "warmup": warmup,
        "iters": iters,
        "precision": prec.name,
        "params": sum(p.numel() for p in net.parameters()),
        "trainable_params": sum(p.numel() for p in net.parameters() if p.requires_grad),
    }

    net.eval()
    fc = count_flops(net, to_device(example_inputs_fn(1), dev))
    out.update(flops=fc.flops, macs=fc.macs, flops_by_op=fc.by_op)
    x = to_device(example_inputs_fn(batch_size), dev)

    def infer() -> None:
        with torch.inference_mode(), autocast():
            call_model(net, x)

    mem, method = peak_memory(infer, dev)
    out.update(infer_peak_mem_bytes=mem, memory_method=method)
    elapsed = _timed(infer, dev, warmup, iters)
    out["infer_seq_per_s"] = batch_size * iters / elapsed

    if train:
        net.train()
        out["train_flops"] = count_flops(net, to_device(train_fn(1), dev), True, loss_fn).flops
        xt = to_device(train_fn(batch_size), dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-6)
        scaler = prec.grad_scaler()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(call_model(net, xt))
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()

        mem, _ = peak_memory(step, dev)
        out["train_peak_mem_bytes"] = mem
        elapsed = _timed(step, dev, warmup, iters)
        out["train_seq_per_s"] = batch_size * iters / elapsed

    if matmul_n:
        rate = measure_matmul_flops(matmul_n, matmul_dtype, dev)
        out.update(matmul_n=matmul_n, matmul_dtype=str(matmul_dtype).removeprefix("torch."))
        out["matmul_flops_per_s"] = rate
        out["infer_achieved_flops_per_s"] = out["flops"] * out["infer_seq_per_s"]
        out["infer_fraction_of_matmul"] = out["infer_achieved_flops_per_s"] / rate
        if train:
            out["train_achieved_flops_per_s"] = out["train_flops"] * out["train_seq_per_s"]
            out["train_fraction_of_matmul"] = out["train_achieved_flops_per_s"] / rate
    out["notes"] = [
        FLOPS_NOTE,
        "flops/macs: forward of one sequence; train_flops: forward + backward of one sequence.",
        f"throughput: {warmup} warm-up then {iters} timed calls of batch {batch_size}; "
        "inference in torch.inference_mode, training step = forward + backward + Adam step.",
        f"memory: {method}.",
    ]
    if matmul_n:
        out["notes"].append(
            f"matmul: median of 10 products of {matmul_n}x{matmul_n} "
            f"{str(matmul_dtype).removeprefix('torch.')} on the same device, same run."
        )
    return out


def benchmark_backbone(
    name: str,
    in_shape: tuple[int, int, int, int],
    t_out: int,
    batch_size: int,
    out_channels: int = 1,
    aux_channels: int = 0,
    backbone_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Build a registered backbone by name and :func:`benchmark_model` it on random inputs.

    Args:
        name: a name of ``geostl.models.available()``.
        in_shape: ``(T_in, C_in, H, W)`` with ``C_in = out_channels + aux_channels``.
        t_out: forecast length.
        backbone_kwargs: constructor arguments (e.g. ``{"num_hidden": [128] * 4}``).
        **kwargs: passed to :func:`benchmark_model` (device, warmup, iters, ...).

    The training step gets ``truth`` (scheduled sampling) as in training.
    """
    from geostl.models import build_backbone  # the model registry (imported on use)

    net = build_backbone(
        name,
        in_shape=tuple(in_shape),
        out_channels=out_channels,
        t_out=t_out,
        aux_channels=aux_channels,
        **(backbone_kwargs or {}),
    )
    t_in, c_in, h, w = in_shape
    kwargs.setdefault("name", name)
    kwargs.setdefault("input_desc", f"{t_in}x{c_in}x{h}x{w} -> {t_out}x{out_channels}")
    return benchmark_model(
        net,
        backbone_inputs_fn(in_shape, out_channels, t_out, aux_channels),
        batch_size,
        train_inputs_fn=backbone_inputs_fn(in_shape, out_channels, t_out, aux_channels, train=True),
        **kwargs,
    )
