"""The Forecaster: a fusion and a backbone composed from a config, plus helpers.

``model_cfg`` (the run config's ``model`` section)::

    {"backbone": {"name": "convlstm", **backbone kwargs}, "fusion": "concat"}

``meta`` (from the dataset, :func:`meta_from_dataset`)::

    {"t_in", "t_out", "target_channels", "forcing_channels", "static_channels",
     "height", "width"}   (ints)

The backbone receives ``in_shape=(t_in, C + A, height, width)``, ``out_channels=C``,
``t_out`` and ``aux_channels=A`` (A from the fusion); those four are set from ``meta`` and
may not appear in ``model.backbone``. It also receives the fusion's ``backbone_options``
(``frame_transform`` for ``fusion: mixer``, ``action_channels`` for ``fusion: action``), which
are chosen through ``model.fusion`` and may not appear in ``model.backbone`` either (nor the
former ``channel_mixer`` flag).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from geostl._keys import plain, unknown_keys
from geostl.models.baseline_start import BaselineStart
from geostl.models.fusion import BACKBONE_OPTION_KEYS
from geostl.models.registry import BACKBONES, FUSIONS
from geostl.models.spread_head import GaussianSpreadHead
from geostl.models.sun_frame import SunFixedFrame
from geostl.runconfig.spec import RUN_SPEC

META_KEYS = (
    "t_in",
    "t_out",
    "target_channels",
    "forcing_channels",
    "static_channels",
    "height",
    "width",
)
OPTIONAL_META_KEYS = ("lon", "time_step_hours")
# the model section's keys and choices are declared once, in the run-config schema
_MODEL = RUN_SPEC.keys["model"]
MODEL_KEYS = tuple(_MODEL.keys)
RESIDUAL_MODES = tuple(_MODEL.keys["residual"].choices)
FRAMES = tuple(_MODEL.keys["frame"].choices)
OUTPUTS = tuple(_MODEL.keys["output"].choices)
RESERVED_BACKBONE_KEYS = ("in_shape", "out_channels", "t_out", "aux_channels")
#: backbone keys a fusion sets: its options plus the former mixer flag (now ``frame_transform``)
FUSION_BACKBONE_KEYS = (*BACKBONE_OPTION_KEYS, "channel_mixer")


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``module`` (all, or only those with requires_grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def backbones_accepting(option: str) -> list[str]:
    """Names of the registered backbones whose constructor takes the keyword ``option``."""
    return [n for n in BACKBONES.available() if option in (BACKBONES.accepted_arguments(n) or ())]


def check_backbone_options(backbone: str, fusion: str, options: Mapping[str, Any]) -> None:
    """Raise a ValueError when ``backbone`` does not accept an option the fusion needs,
    naming the backbones that do."""
    accepted = BACKBONES.accepted_arguments(backbone)
    for option in options:
        if accepted is not None and option not in accepted:
            able = backbones_accepting(option)
            raise ValueError(
                f"model.fusion {fusion!r} needs a backbone with the {option!r} option; "
                f"backbone {backbone!r} has none. Backbones that support it: {', '.join(able)}"
            )


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered backbone, kwargs checked against its constructor (see contract)."""
    return BACKBONES.build(name, **kwargs)


def available() -> list[str]:
    """Names of the registered backbones."""
    return BACKBONES.available()


def _unknown_keys(given: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = unknown_keys(given, allowed, ignore_case=True, cutoff=0.6)
    if unknown:
        raise KeyError(f"unknown key(s) in {where}: {unknown}; expected {', '.join(allowed)}")


def check_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``meta``: the contract's keys as non-negative ints (channels, sizes > 0), plus
    the optional ``lon`` ((W,) degrees east) and ``time_step_hours`` (float or None)."""
    _unknown_keys(meta, META_KEYS + OPTIONAL_META_KEYS, "meta")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise KeyError(f"meta is missing {missing}; expected keys {list(META_KEYS)}")
    out: dict[str, Any] = {}
    for key in META_KEYS:
        value = meta[key]
        low = 0 if key in ("forcing_channels", "static_channels") else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"meta[{key!r}] must be an int >= {low}, got {value!r}")
        out[key] = int(value)
    if meta.get("lon") is not None:
        lon = [float(v) for v in meta["lon"]]
        if len(lon) != out["width"]:
            raise ValueError(f"meta['lon'] has {len(lon)} values, meta['width'] is {out['width']}")
        out["lon"] = lon
    if meta.get("time_step_hours") is not None:
        out["time_step_hours"] = float(meta["time_step_hours"])
    return out


def meta_from_dataset(dataset: Any) -> dict[str, Any]:
    """The ``meta`` dict of a :class:`geostl.data.WindowDataset` (grid size after padding;
    ``lon`` of the padded grid, None on a pixel grid; ``time_step_hours`` None for
    calendar-monthly axes)."""
    import numpy as np

    rows = getattr(dataset, "rows", None)
    rows = dataset.lat if rows is None else rows
    cols = getattr(dataset, "cols", None)
    cols = dataset.lon if cols is None else cols
    step = np.timedelta64(dataset.time_step)
    hours = (
        None
        if np.datetime_data(step.dtype)[0] in ("Y", "M")
        else float(step / np.timedelta64(1, "h"))
    )
    return {
        "t_in": int(dataset.t_in),
        "t_out": int(dataset.t_out),
        "target_channels": len(dataset.target_names),
        "forcing_channels": len(dataset.forcing_names),
        "static_channels": len(dataset.static_names),
        "height": len(rows),
        "width": len(cols),
        "lon": None if dataset.lon is None else [float(v) for v in dataset.lon],
        "time_step_hours": hours,
    }


def _zero_readout(backbone: nn.Module, name: str) -> None:
    """Zero the backbone's final layer (the module named ``readout``), so that a residual
    Forecaster starts exactly at its reference forecast and training moves away from it."""
    found = [m for n, m in backbone.named_modules() if n.split(".")[-1] == "readout"]
    if len(found) != 1:
        raise ValueError(
            f"model.residual: backbone {name!r} must have exactly one final layer named "
            f"'readout' to start from the reference forecast, found {len(found)}"
        )
    with torch.no_grad():
        for p in found[0].parameters():
            p.zero_()


class Forecaster(nn.Module):
    """Fusion + backbone; ``forward(batch) -> {"pred", "aux_losses"}`` in normalised units
    (plus ``"pred_std"`` with ``output: gaussian``).

    Args:
        model_cfg: ``{"backbone": {"name": ..., **kwargs} | name, "fusion": name,
            "residual": "none" | "last"}`` (fusion defaults to ``"concat"``). With
            ``residual: last`` the backbone forecasts the change from the last input frame of
            the target channels (inputs, truth and fed-back outputs are all taken relative to
            it) and the Forecaster adds that frame back: persistence is the zero forecast.
            ``"frame": "sun_fixed"`` runs the backbone in longitudes that turn with the Sun
            (:mod:`geostl.models.sun_frame`; global grids with an hourly time step); with
            ``residual: last`` its zero forecast is sun-fixed persistence.
            ``"baseline": "persistence" | "sun_fixed" | "climatology" | "blend"`` makes the
            backbone forecast the correction to that baseline
            (:mod:`geostl.models.baseline_start`; inputs relative to the last map as with
            ``residual: last``); its zero forecast is the baseline. A climatology or blend
            must be fitted (:meth:`fit_baseline`) before training.
            ``"output": "gaussian"`` adds a spread head
            (:class:`~geostl.models.spread_head.GaussianSpreadHead`, hidden width
            ``"spread_hidden"``, default 16) that gives a per-pixel standard deviation of the
            forecast from the final geographic mean and the last input map; it is trained by
            ``train.criterion: crps`` or ``nll``. ``"point"`` (default): the mean only.
        meta: the data's shape description (see module docstring).
    """

    def __init__(self, model_cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        super().__init__()
        cfg = plain(model_cfg, "model", strict=True)
        if not isinstance(cfg, dict):
            raise TypeError(f"model config must be a mapping, got {type(model_cfg).__name__}")
        _unknown_keys(cfg, MODEL_KEYS, "model")
        self._model_cfg = cfg
        self._meta = check_meta(meta)
        m = self._meta

        if "backbone" not in cfg:
            raise KeyError("model.backbone is missing (e.g. {name: convlstm})")
        backbone_cfg = cfg["backbone"]
        if isinstance(backbone_cfg, str):
            backbone_cfg = {"name": backbone_cfg}
        if not isinstance(backbone_cfg, dict) or "name" not in backbone_cfg:
            raise KeyError(
                f"model.backbone must be a mapping with a 'name' (one of "
                f"{', '.join(available())}), got {backbone_cfg!r}"
            )
        kwargs = {k: v for k, v in backbone_cfg.items() if k != "name"}
        reserved = [k for k in kwargs if k in RESERVED_BACKBONE_KEYS]
        if reserved:
            raise KeyError(
                f"model.backbone.{reserved[0]} is set from the data (meta) and "
                f"may not be given; remove {reserved}"
            )
        options = [k for k in kwargs if k in FUSION_BACKBONE_KEYS]
        if options:
            raise KeyError(
                f"model.backbone.{options[0]} is set by the fusion and may not be given; "
                "choose model.fusion: mixer (frame_transform) or action (action_channels) instead"
            )
        fusion_name = cfg.get("fusion", "concat")
        self.fusion = FUSIONS.build(
            fusion_name,
            target_channels=m["target_channels"],
            forcing_channels=m["forcing_channels"],
            static_channels=m["static_channels"],
        )
        aux = self.fusion.aux_channels
        c = m["target_channels"]
        backbone_options = dict(self.fusion.backbone_options)
        check_backbone_options(backbone_cfg["name"], fusion_name, backbone_options)
        try:
            self.backbone = build_backbone(
                backbone_cfg["name"],
                in_shape=(m["t_in"], c + aux, m["height"], m["width"]),
                out_channels=c,
                t_out=m["t_out"],
                aux_channels=aux,
                **backbone_options,
                **kwargs,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise type(err)(f"model.backbone: {err.args[0] if err.args else err}") from err
        self.t_out = m["t_out"]
        self.residual = str(cfg.get("residual", "none"))
        if self.residual not in RESIDUAL_MODES:
            raise ValueError(
                f"model.residual: expected one of {RESIDUAL_MODES}, got {self.residual!r}"
            )
        if self.residual == "last":
            _zero_readout(self.backbone, backbone_cfg["name"])
        self.frame_name = str(cfg.get("frame", "geographic"))
        if self.frame_name not in FRAMES:
            raise ValueError(f"model.frame: expected one of {FRAMES}, got {self.frame_name!r}")
        self.sun_frame = None
        if self.frame_name == "sun_fixed":
            if "lon" not in m or "time_step_hours" not in m:
                raise ValueError(
                    "model.frame: sun_fixed needs the grid's longitudes and an hourly-convertible "
                    "time step in meta ('lon', 'time_step_hours'); monthly data cannot use it"
                )
            self.sun_frame = SunFixedFrame(m["lon"], m["time_step_hours"])
        self.baseline_name = str(cfg.get("baseline", "none"))
        self.baseline: BaselineStart | None = None
        if self.baseline_name != "none":
            if self.residual != "none" or self.frame_name != "geographic":
                raise ValueError(
                    f"model.baseline {self.baseline_name!r} replaces model.residual and "
                    "model.frame (residual: last is baseline: persistence); leave them at "
                    f"none / geographic, got residual {self.residual!r}, frame "
                    f"{self.frame_name!r}"
                )
            self.baseline = BaselineStart(self.baseline_name, m)
            _zero_readout(self.backbone, backbone_cfg["name"])
        self.output = str(cfg.get("output", "point"))
        if self.output not in OUTPUTS:
            raise ValueError(f"model.output: expected one of {OUTPUTS}, got {self.output!r}")
        hidden = cfg.get("spread_hidden", 16)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"model.spread_hidden must be an int >= 1, got {hidden!r}")
        self.spread_head: GaussianSpreadHead | None = None
        if self.output == "gaussian":
            self.spread_head = GaussianSpreadHead(c, m["t_out"], hidden)

    @property
    def starts_at_baseline(self) -> bool:
        """True when the untrained model forecasts a baseline (``residual: last`` or
        ``model.baseline``): the Trainer then keeps it as best.pt unless training improves."""
        return self.residual == "last" or self.baseline is not None

    def fit_baseline(self, train: Any, val: Any, batch_size: int = 8) -> list[str]:
        """Fit the baseline's tables (climatology on ``train``, blend weights on ``val``), then
        the spread head's initial scale (``output: gaussian``: the RMSE per lead of the
        untrained forecast on ``train``); returns the lines that describe it (nothing to fit:
        [])."""
        lines: list[str] = []
        if self.baseline is not None and self.baseline.needs_fit:
            lines += self.baseline.fit(train, val, batch_size)
        if self.spread_head is not None:
            lines += self.spread_head.fit_scale(self, train, batch_size)
        return lines

    def constructor_args(self) -> tuple[dict[str, Any], dict[str, int]]:
        """Plain copies of (model_cfg, meta): ``Forecaster(*f.constructor_args())`` rebuilds it."""
        return copy.deepcopy(self._model_cfg), dict(self._meta)

    def forward(
        self,
        batch: Mapping[str, torch.Tensor],
        teacher_forcing: float | None = None,
        t_out: int | None = None,
    ) -> dict[str, Any]:
        """Forecast from a batch of samples.

        Args:
            batch: ``inputs`` (B, T_in, C, H, W) and, as the fusion needs them, ``forcings_in``,
                ``forcings_out`` (B, t_out, F, H, W), ``static`` (B, S, H, W); in training mode
                ``targets`` (B, t_out, C, H, W) is passed to the backbone as truth.
            teacher_forcing: scheduled-sampling probability for recurrent backbones (training).
            t_out: forecast length, default ``meta["t_out"]`` (longer rollouts need
                ``forcings_out`` of that length when the fusion uses forcings).

        Returns:
            ``{"pred": (B, t_out, C, H, W) normalised, "aux_losses": {name: scalar tensor}}``;
            with ``output: gaussian`` also ``"pred_std"``: (B, t_out, C, H, W) float32 standard
            deviation of the forecast (normalised units, > 0), in the geographic frame as
            ``pred``.
        """
        t_out = self.t_out if t_out is None else int(t_out)
        x, future_aux = self.fusion(batch, t_out)
        truth = batch.get("targets") if self.training else None
        if truth is not None:
            truth = truth.to(x.dtype)
        if self.sun_frame is not None:
            before, ahead = self.sun_frame.offsets_hours(x.shape[1], t_out)
            x = self.sun_frame.to_frame(x, before)
            if future_aux is not None:
                future_aux = self.sun_frame.to_frame(future_aux, ahead)
            if truth is not None:
                truth = self.sun_frame.to_frame(truth, ahead)
        reference = None
        if self.residual == "last" or self.baseline is not None:
            # The backbone works on differences from the last input frame of the targets; it
            # forecasts the change from that frame (residual: last) or the correction to the
            # baseline, and truth and fed-back outputs are taken in the same frame.
            c = self._meta["target_channels"]
            last = x[:, -1:, :c]
            x = torch.cat([x[:, :, :c] - last, x[:, :, c:]], dim=2)
            reference = last if self.baseline is None else self.baseline(batch, t_out)
            if truth is not None:
                truth = truth - reference
        pred = self.backbone(x, future_aux, t_out, truth=truth, teacher_forcing=teacher_forcing)
        if reference is not None:
            pred = pred + reference
        if self.sun_frame is not None:
            pred = self.sun_frame.from_frame(pred, ahead)
        aux_losses = dict(getattr(self.backbone, "aux_losses", {}) or {})
        out: dict[str, Any] = {"pred": pred, "aux_losses": aux_losses}
        if self.spread_head is not None:
            # both in the geographic frame: the final pred and the batch's own last input map
            last = batch["inputs"][:, -1, : self._meta["target_channels"]]
            out["pred_std"] = self.spread_head(pred, last)
        return out


def build_forecaster(model_cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> Forecaster:
    """Build a :class:`Forecaster` from the run config's ``model`` section and the data meta."""
    return Forecaster(model_cfg, meta)


#: backbone flag whose default changed (True before, False now): OpenSTL's unused weights
INERT_FLAG = "openstl_inert_params"


def forecaster_for_state_dict(
    model_cfg: Mapping[str, Any], meta: Mapping[str, Any], state_dict: Mapping[str, Any]
) -> Forecaster:
    """Build the Forecaster that ``state_dict`` was saved from and load it (strict).

    Checkpoints written before ``model.backbone.openstl_inert_params`` became opt-in (default
    False) do not carry the key but hold OpenSTL's inert weights (the old default was True).
    When the config lacks the key, the backbone takes it and the state dict has keys the
    default model lacks, the flag is set to True; the returned model's ``constructor_args()``
    then carry it. Any other mismatch raises as ``load_state_dict`` does.
    """
    model = Forecaster(model_cfg, meta)
    backbone = model._model_cfg["backbone"]
    if isinstance(backbone, str):
        backbone = {"name": backbone}
    extra = set(state_dict) - set(model.state_dict())
    accepted = BACKBONES.accepted_arguments(backbone["name"]) or ()
    if extra and INERT_FLAG not in backbone and INERT_FLAG in accepted:
        cfg = {**model._model_cfg, "backbone": {**backbone, INERT_FLAG: True}}
        flagged = Forecaster(cfg, meta)
        if set(state_dict) == set(flagged.state_dict()):
            model = flagged
    model.load_state_dict(state_dict)
    return model
