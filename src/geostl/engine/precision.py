"""``train.precision``: the number format of the training step (autocast and loss scaling).

=========  ==========================================================================
``auto``   CUDA: ``bf16`` where the card supports it, else ``fp16``; CPU: ``fp32``
``fp32``   no autocast
``bf16``   ``torch.autocast(dtype=bfloat16)`` on CUDA or CPU; no loss scaling (bfloat16
           has float32's exponent range)
``fp16``   ``torch.autocast(dtype=float16)`` with a ``GradScaler`` (CUDA only: float16
           gradients underflow without loss scaling, and CPU kernels for it are slow)
=========  ==========================================================================

Autocast runs the matrix products and convolutions in the low format and keeps reductions,
norms and the loss in float32; parameters, gradients and the optimiser state stay float32.
Validation and testing use the same autocast as training; the metric sums are float64
whatever the precision. The older ``train.amp: true`` still means ``bf16`` on CPU and
``fp16`` on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` (``fp32`` | ``bf16`` | ``fp16``) on ``device_type``."""

    name: str
    device_type: str

    @property
    def autocast(self) -> Callable[[], AbstractContextManager]:
        """A factory of the context the forward pass (and the loss) runs in."""
        if self.name == "fp32":
            return nullcontext
        dtype, device_type = _DTYPES[self.name], self.device_type
        return lambda: torch.autocast(device_type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A loss scaler for ``fp16``; None otherwise."""
        return torch.amp.GradScaler(self.device_type) if self.name == "fp16" else None


def resolve_precision(requested: str, device: torch.device, amp: bool = False) -> Precision:
    """The :class:`Precision` of ``train.precision`` (and the older ``train.amp``) on
    ``device``; a ``ValueError`` naming the key for a format the device cannot run."""
    if requested not in PRECISIONS:
        raise ValueError(f"train.precision: expected one of {PRECISIONS}, got {requested!r}")
    kind = device.type
    if amp:
        if requested != "auto":
            raise ValueError(
                f"train.amp: true and train.precision: {requested} both given; train.amp is "
                "the older name, keep train.precision alone"
            )
        requested = "fp16" if kind == "cuda" else "bf16"
    if requested == "auto":
        if kind != "cuda":
            requested = "fp32"
        else:
            requested = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if requested == "fp16" and kind != "cuda":
        raise ValueError(
            f"train.precision: fp16 needs a CUDA device (this run is on {kind}); use bf16 "
            "or fp32 on a CPU"
        )
    if requested == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"train.precision: bf16 is not supported by {torch.cuda.get_device_name(device)}; "
            "use fp16 (with loss scaling) or fp32"
        )
    return Precision(requested, kind)
