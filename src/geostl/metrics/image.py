"""SSIM and PSNR on gridded fields with an explicit data range (no clipping to [0, 1]).

SSIM follows Wang et al. (2004): local means, variances and covariance under a window,
``C1 = (K1 * R)**2``, ``C2 = (K2 * R)**2`` with ``R`` the data range, and the frame value is the
mean of the SSIM map over the pixels whose whole window lies inside the frame (the border strip
of half a window is left out, as in scikit-image). Defaults: Gaussian window with sigma 1.5
truncated at 3.5 sigma (11 x 11), K1 = 0.01, K2 = 0.03, population (co)variances. The
alternative ``window="uniform"`` is a flat 7 x 7 window.

With a ``mask``, only windows made entirely of valid pixels contribute: the SSIM map is
averaged over the pixels whose window is fully valid, so invalid values (land, gaps) never
enter a local statistic. PSNR with a mask uses the mean squared error over valid pixels.
Computation is in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ssim", "psnr", "ssim_window"]


def ssim_window(
    window: str = "gaussian", sigma: float = 1.5, size: int | None = None, truncate: float = 3.5
) -> torch.Tensor:
    """1-D separable SSIM window (float64, sums to 1).

    Args:
        window: ``"gaussian"`` or ``"uniform"``.
        sigma: Gaussian standard deviation in pixels.
        size: window length (odd). Default: ``2 * int(truncate * sigma + 0.5) + 1`` (11 for
            sigma 1.5) for Gaussian, 7 for uniform.
        truncate: Gaussian truncation in standard deviations (used when ``size`` is None).

    Returns:
        (size,) float64 weights.
    """
    if window == "gaussian":
        if not sigma > 0:
            raise ValueError(f"sigma: expected a positive number of pixels, got {sigma}")
        if size is None:
            size = 2 * int(truncate * sigma + 0.5) + 1
        _check_size(size)
        x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        k = torch.exp(-0.5 * (x / sigma) ** 2)
    elif window == "uniform":
        size = 7 if size is None else size
        _check_size(size)
        k = torch.ones(size, dtype=torch.float64)
    else:
        raise ValueError(f"window: expected 'gaussian' or 'uniform', got {window!r}")
    return k / k.sum()


def _check_size(size: int) -> None:
    if not isinstance(size, int) or size < 1 or size % 2 != 1:
        raise ValueError(f"size: expected a positive odd window length, got {size!r}")


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target: expected the same shape (..., H, W), got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    if pred.ndim < 2:
        raise ValueError(f"pred: expected shape (..., H, W), got {tuple(pred.shape)}")


def _data_range(data_range: float | torch.Tensor, lead: torch.Size, device) -> torch.Tensor:
    r = torch.as_tensor(data_range, dtype=torch.float64, device=device)
    if not bool(torch.isfinite(r).all()) or bool((r <= 0).any()):
        raise ValueError(f"data_range: expected finite values > 0, got {data_range!r}")
    try:
        return torch.broadcast_to(r, lead)
    except RuntimeError as err:
        raise ValueError(
            f"data_range: shape {tuple(r.shape)} does not broadcast to the leading dims "
            f"{tuple(lead)} of the frames"
        ) from err


def _check_values(x: torch.Tensor, mask: torch.Tensor | None, name: str) -> None:
    bad = ~torch.isfinite(x)
    if mask is not None:
        bad = bad & mask
    if bool(bad.any()):
        where = "where mask is True" if mask is not None else "(pass mask= to exclude them)"
        raise ValueError(f"{name}: found NaN or inf {where}")


def _check_mask(mask: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if mask.dtype != torch.bool:
        raise ValueError(f"mask: expected a bool tensor (True = valid), got {mask.dtype}")
    try:
        return torch.broadcast_to(mask, shape)
    except RuntimeError as err:
        raise ValueError(
            f"mask: shape {tuple(mask.shape)} does not broadcast to the data shape {tuple(shape)}"
        ) from err


def _filter(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """'valid' separable correlation of (N, 1, H, W) with the 1-D kernel k along H and W."""
    n = k.numel()
    x = F.conv2d(x, k.view(1, 1, n, 1))
    return F.conv2d(x, k.view(1, 1, 1, n))


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float | torch.Tensor,
    mask: torch.Tensor | None = None,
    window: str = "gaussian",
    sigma: float = 1.5,
    size: int | None = None,
    k1: float = 0.01,
    k2: float = 0.03,
    sample_covariance: bool = False,
) -> torch.Tensor:
    """Structural similarity per frame.

    Args:
        pred: (..., H, W) field in physical units.
        target: (..., H, W) reference field, same shape.
        data_range: R in ``C1 = (k1 R)^2, C2 = (k2 R)^2``, in the units of the data (e.g. 40 K);
            a float or a tensor broadcastable to the leading dims ``...`` (e.g. per channel).
            Required: nothing is rescaled or clipped.
        mask: optional bool (..., H, W) (or broadcastable), True = valid. Only windows that
            are entirely valid contribute.
        window: ``"gaussian"`` (default, sigma 1.5, 11 x 11) or ``"uniform"`` (7 x 7).
        sigma: Gaussian sigma in pixels.
        size: window length; see :func:`ssim_window`.
        k1, k2: stability constants.
        sample_covariance: use ``N / (N - 1)`` (co)variances (scikit-image's default for the
            uniform window) instead of population ones (Wang et al. 2004).

    Returns:
        (...) float64 SSIM per frame, in [-1, 1]. NaN for a frame with no fully valid window.

    Raises:
        ValueError: on shape mismatch, a window larger than the frame, a non-positive data
            range, or NaN/inf where the mask does not exclude it.
    """
    _check_pair(pred, target)
    H, W = pred.shape[-2:]
    k = ssim_window(window, sigma=sigma, size=size).to(pred.device)
    n = k.numel()
    if n > H or n > W:
        raise ValueError(f"ssim: window size {n} exceeds the frame size ({H}, {W})")
    lead = pred.shape[:-2]
    R = _data_range(data_range, lead, pred.device).reshape(-1, 1, 1, 1)
    if mask is not None:
        mask = _check_mask(mask, pred.shape)
    _check_values(pred, mask, "pred")
    _check_values(target, mask, "target")

    x = pred.detach().to(torch.float64).reshape(-1, 1, H, W)
    y = target.detach().to(torch.float64).reshape(-1, 1, H, W)
    if mask is not None:
        m = mask.reshape(-1, 1, H, W)
        x = torch.where(m, x, 0.0)
        y = torch.where(m, y, 0.0)
    cov_norm = n * n / (n * n - 1) if sample_covariance else 1.0
    ux, uy = _filter(x, k), _filter(y, k)
    vx = cov_norm * (_filter(x * x, k) - ux * ux)
    vy = cov_norm * (_filter(y * y, k) - uy * uy)
    vxy = cov_norm * (_filter(x * y, k) - ux * uy)
    c1 = (k1 * R) ** 2
    c2 = (k2 * R) ** 2
    smap = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    if mask is None:
        out = smap.mean(dim=(-3, -2, -1))
    else:
        box = torch.ones(n, dtype=torch.float64, device=pred.device)
        full = _filter(m.to(torch.float64), box) > n * n - 0.5
        cnt = full.sum(dim=(-3, -2, -1))
        tot = torch.where(full, smap, 0.0).sum(dim=(-3, -2, -1))
        out = torch.where(cnt > 0, tot / cnt.clamp(min=1), torch.nan)
    return out.reshape(lead)


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float | torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio per frame, ``10 log10(R^2 / MSE)`` in dB.

    Args:
        pred: (..., H, W) field in physical units.
        target: (..., H, W) reference field, same shape.
        data_range: R in the units of the data; float or tensor broadcastable to ``...``.
        mask: optional bool (..., H, W) (or broadcastable), True = valid; the MSE is taken
            over valid pixels only.

    Returns:
        (...) float64 PSNR per frame in dB; +inf where the frame is matched exactly, NaN for
        a frame without valid pixels.
    """
    _check_pair(pred, target)
    lead = pred.shape[:-2]
    R = _data_range(data_range, lead, pred.device)
    if mask is not None:
        mask = _check_mask(mask, pred.shape)
    _check_values(pred, mask, "pred")
    _check_values(target, mask, "target")
    d = pred.detach().to(torch.float64) - target.detach().to(torch.float64)
    if mask is None:
        mse = (d * d).mean(dim=(-2, -1))
    else:
        d = torch.where(mask, d, 0.0)
        cnt = mask.sum(dim=(-2, -1))
        mse = torch.where(cnt > 0, (d * d).sum(dim=(-2, -1)) / cnt.clamp(min=1), torch.nan)
    return 10.0 * torch.log10(R * R / mse)
