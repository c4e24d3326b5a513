"""The spread head of ``model.output: gaussian``: a per-pixel standard deviation for any backbone.

The head does not touch the backbone. Per lead t (leads folded into the batch) it sees four
kinds of planes, all in normalised units and in the geographic frame:

- the Forecaster's mean forecast at lead t, (B, C, H, W);
- the last input frame of the target channels, (B, C, H, W);
- their difference (how far the forecast moved from persistence), (B, C, H, W);
- the lead as a constant plane, ``(t + 1) / t_out`` (1 / t_out at the first lead, 1 at the
  trained horizon ``t_out``; larger for longer rollouts), (B, 1, H, W).

The inputs are detached (the score trains the mean through ``pred`` and the head through
``std``, so the spread does not bend the mean). A small conv net (3x3 conv -> GELU -> 3x3
conv, zero padding) gives the raw values r, (B, T, C, H, W); ``std = softplus(r + o[t, c]) +
1e-4`` (normalised units, > 0 everywhere) with a learnt offset o per lead and channel. The
readout's weights start at zero and its bias at ``softplus^-1(0.1 - 1e-4)``, so the untrained
head gives std = 0.1 at every pixel and lead. Before training, :meth:`fit_scale` (called by
the Forecaster's ``fit_baseline``, which the Trainer calls on a fresh run) sets o so that the
initial std of each lead and channel is the RMSE of the untrained mean forecast on the train
split: the spread starts at the size of the error, not at a guess of the data's scale.
It is trained through a proper score of N(pred, std^2) (``train.criterion: crps`` or
``nll``, :mod:`geostl.engine.loss`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: the untrained head's standard deviation (normalised units)
INITIAL_STD = 0.1
#: added to softplus(r) so that the standard deviation stays > 0 (normalised units)
MIN_STD = 1e-4


def inverse_softplus(y: float) -> float:
    """The x with ``softplus(x) = log(1 + exp(x)) = y`` (y > 0)."""
    return y + math.log(-math.expm1(-y))


class GaussianSpreadHead(nn.Module):
    """Per-pixel standard deviation of a Gaussian forecast from its mean and the last input.

    Args:
        channels: C, the target channels.
        t_out: the trained forecast length (the lead plane is ``(t + 1) / t_out``).
        hidden: width of the hidden layer.
    """

    def __init__(self, channels: int, t_out: int, hidden: int = 16) -> None:
        super().__init__()
        if channels < 1 or t_out < 1 or hidden < 1:
            raise ValueError(
                f"GaussianSpreadHead: channels, t_out and hidden must be >= 1, got "
                f"{channels}, {t_out}, {hidden}"
            )
        self.channels, self.t_out, self.hidden = int(channels), int(t_out), int(hidden)
        self.conv = nn.Conv2d(3 * channels + 1, hidden, 3, padding=1)
        self.act = nn.GELU()
        self.readout = nn.Conv2d(hidden, channels, 3, padding=1)
        self.offset = nn.Parameter(torch.zeros(self.t_out, self.channels))
        with torch.no_grad():
            self.readout.weight.zero_()
            self.readout.bias.fill_(inverse_softplus(INITIAL_STD - MIN_STD))

    @torch.no_grad()
    def fit_scale(self, model: nn.Module, train: Any, batch_size: int = 8, windows: int = 64):
        """Set the offsets so that the initial std of lead t, channel c is the RMSE (normalised
        units) of ``model``'s mean forecast over at most ``windows`` train windows spread
        evenly over the split; returns the line that describes it.

        Args:
            model: the Forecaster this head belongs to (run in eval mode, restored after).
            train: the train WindowDataset.
        """
        from torch.utils.data import DataLoader, Subset

        n = len(train)
        picks = sorted({int(i) for i in torch.linspace(0, n - 1, min(n, windows)).round()})
        loader = DataLoader(Subset(train, picks), batch_size, shuffle=False)
        se = torch.zeros(self.t_out, self.channels, dtype=torch.float64)
        count = torch.zeros_like(se)
        device = next(model.parameters()).device
        was = model.training
        model.eval()
        try:
            for batch in loader:
                batch = {k: v.to(device) for k, v in batch.items()}
                pred = model(batch)["pred"].double()
                mask = batch["target_mask"]
                d = torch.where(mask, pred - batch["targets"].double(), 0.0)
                se += (d * d).sum(dim=(0, 3, 4)).cpu()
                count += mask.sum(dim=(0, 3, 4)).cpu().double()
        finally:
            model.train(was)
        rmse = torch.sqrt(se / count.clamp_min(1.0)).clamp_min(10 * MIN_STD)
        target = torch.tensor([[inverse_softplus(float(v) - MIN_STD) for v in row] for row in rmse])
        self.offset.copy_(target - self.readout.bias.detach().double().cpu()[None])
        return [
            f"spread head: initial std per lead = the untrained forecast's RMSE on {len(picks)} "
            f"train windows, {float(rmse.min()):.4g} .. {float(rmse.max()):.4g} (normalised units)"
        ]

    def forward(self, pred: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Standard deviation of the forecast.

        Args:
            pred: (B, T, C, H, W) mean forecast, normalised units, geographic frame.
            last: (B, C, H, W) last input frame of the target channels, same units and frame.

        Returns:
            (B, T, C, H, W) float32 standard deviation (normalised units), > 0.
        """
        b, t, c, h, w = pred.shape
        if c != self.channels or last.shape != (b, c, h, w):
            raise ValueError(
                f"GaussianSpreadHead: pred {tuple(pred.shape)} and last {tuple(last.shape)} "
                f"must be (B, T, {self.channels}, H, W) and (B, {self.channels}, H, W)"
            )
        mean = pred.detach().reshape(b * t, c, h, w)
        ref = last.detach().to(pred.dtype).unsqueeze(1).expand(b, t, c, h, w)
        ref = ref.reshape(b * t, c, h, w)
        lead = (torch.arange(1, t + 1, device=pred.device, dtype=pred.dtype) / self.t_out).view(
            1, t, 1, 1, 1
        )
        lead = lead.expand(b, t, 1, h, w).reshape(b * t, 1, h, w)
        x = torch.cat([mean, ref, mean - ref, lead], dim=1)
        raw = self.readout(self.act(self.conv(x))).reshape(b, t, c, h, w)
        steps = torch.arange(t, device=pred.device).clamp_max(self.t_out - 1)
        raw = raw.float() + self.offset.float()[steps][None, :, :, None, None]
        return F.softplus(raw) + MIN_STD
