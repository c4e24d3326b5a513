"""FLOPs and MACs of one forward (or training) pass with ``torch.utils.flop_counter``.

``FlopCounterMode`` counts the matrix products only (``mm``, ``addmm``, ``bmm``, convolutions,
scaled-dot-product attention and their backward ops), each multiply-add as **2 FLOPs**;
element-wise ops (activations, norms, additions, bias terms) are not counted. MACs are reported
as FLOPs / 2, which is the multiply-add count that fvcore (the seeds' and OpenSTL's "FLOPs")
gives for the same ops.

Correction: PyTorch's formula for ``convolution_backward`` counts the weight gradient of a
grouped (e.g. depthwise) convolution as if it were dense, ``groups`` times too many (SimVP's
gSTA depthwise 21x21 kernels came out 25x their forward cost). Here it is replaced by the exact
rule: every forward multiply-add ``x * w`` gives one multiply-add to ``grad_x`` and one to
``grad_w``, so each requested gradient costs the forward convolution's FLOPs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    "FLOPS_NOTE",
    "FlopCount",
    "call_model",
    "conv_backward_flops",
    "count_flops",
    "default_loss",
]

FLOPS_NOTE = (
    "FLOPs from torch.utils.flop_counter.FlopCounterMode: matrix products and convolutions only "
    "(2 FLOPs per multiply-add; element-wise ops and biases not counted); MACs = FLOPs / 2 "
    "(the multiply-add count fvcore calls FLOPs)."
)


def conv_backward_flops(
    grad_out_shape: list[int],
    x_shape: list[int],
    w_shape: list[int],
    _bias: Any,
    _stride: Any,
    _padding: Any,
    _dilation: Any,
    transposed: bool,
    _output_padding: Any,
    _groups: int,
    output_mask: list[bool],
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    """FLOPs of ``aten.convolution_backward`` (shapes as FlopCounterMode passes them).

    The forward convolution costs ``2 * batch * prod(w_shape) * prod(spatial)`` FLOPs, with
    ``w_shape`` = (C_out, C_in / groups, *kernel) and ``spatial`` the output's spatial shape
    (the input's for a transposed convolution); each gradient asked for in ``output_mask``
    (input, weight; the bias gradient is a sum and not counted) costs the same.
    """
    spatial = (x_shape if transposed else grad_out_shape)[2:]
    forward = 2 * x_shape[0] * math.prod(w_shape) * math.prod(spatial)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


@dataclass
class FlopCount:
    """Total FLOPs, MACs (= FLOPs / 2) and FLOPs per aten op."""

    flops: int
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def macs(self) -> int:
        return self.flops // 2


def call_model(model: nn.Module, inputs: Any) -> Any:
    """``model(*inputs)`` for a tuple, ``model(inputs)`` for anything else (e.g. a batch dict)."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def default_loss(output: Any) -> torch.Tensor:
    """A scalar to back-propagate: mean square of the output tensor (or of ``output["pred"]``,
    plus any ``output["aux_losses"]``). Its value is irrelevant to the measurements."""
    if isinstance(output, torch.Tensor):
        return output.float().pow(2).mean()
    if isinstance(output, dict) and "pred" in output:
        loss = output["pred"].float().pow(2).mean()
        for aux in (output.get("aux_losses") or {}).values():
            loss = loss + aux
        return loss
    raise TypeError(
        "the model output is neither a tensor nor a dict with 'pred': pass loss_fn to the benchmark"
    )


def count_flops(
    model: nn.Module,
    inputs: Any,
    train: bool = False,
    loss_fn: Callable[[Any], torch.Tensor] = default_loss,
) -> FlopCount:
    """Count the FLOPs of one call of ``model`` on ``inputs``.

    Args:
        model: the module (its train/eval mode is left as given).
        inputs: a tuple of positional arguments, or one argument (e.g. a batch dict).
        train: also count the backward pass of ``loss_fn(output)`` (the optimizer step is
            element-wise and not counted).

    Returns:
        A :class:`FlopCount` (see the module docstring for what is counted).
    """
    counter = FlopCounterMode(
        display=False, custom_mapping={torch.ops.aten.convolution_backward: conv_backward_flops}
    )
    with counter:
        if train:
            loss_fn(call_model(model, inputs)).backward()
        else:
            with torch.no_grad():
                call_model(model, inputs)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    if train:
        model.zero_grad(set_to_none=True)
    return FlopCount(int(counter.get_total_flops()), by_op)
