"""Evaluation in physical units, beside the baselines, on the same pixels; DDP-aware.

:func:`evaluate` runs the model over a split, de-normalises its forecasts with the dataset's
normaliser and scores them with :class:`geostl.metrics.ForecastMetrics` (cos-latitude
weighted, area mask x :func:`geostl.metrics.meridian_weights`; on a pixel grid plain only,
area mask alone), together with the baselines of ``eval.baselines``:

- ``persistence``: the last input frame held;
- ``sun_fixed``: the last map rotated westward with the Sun (only for grids that are global
  in longitude; otherwise, and on pixel grids, it is left out and a warning says so);
- ``climatology``: a :class:`geostl.baselines.Climatology` (``eval.climatology_by``) fitted on
  the train split of the target source.

Every forecast is scored on the same pixels (valid in the target and in every baseline), and
the model's table carries its skill against each baseline (``skill_<baseline>``). Under DDP
each rank scores a disjoint shard of the windows and the float64 sums are all-reduced.

:func:`evaluate_sums` does the same pass but returns the reduced
:class:`~geostl.metrics.ForecastMetrics` themselves (so channels can be pooled into variables
on the sums, :func:`geostl.metrics.channel_groups.variable_tables`) and, when the model has an
SVQ quantiser and ``eval.codebook_usage`` is on, the code-usage histograms recorded over the
same windows (:mod:`geostl.engine.codebook_usage`), also all-reduced.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch.utils.data import DataLoader

from geostl.baselines import Climatology, persistence, sun_fixed_persistence
from geostl.baselines.sun_fixed import rotation_weights
from geostl.engine.codebook_usage import CodebookUsageRecorder
from geostl.engine.config import EvalConfig
from geostl.engine.distributed import ShardSampler, all_reduce_sum, dist_info
from geostl.engine.ensemble import EnsembleMembers
from geostl.metrics import EnsembleMetrics, ForecastMetrics, MetricTable, meridian_weights
from geostl.outputs.bounds import clip_lower, lower_bound

BASELINE_LABELS = {
    "persistence": "persistence",
    "sun_fixed": "sun-fixed persistence",
    "climatology": "climatology",
    "persistence_27d": "27-day persistence",
    "iri": "IRI-2020",
}
MODEL_LABEL = "model"
#: labels of the probabilistic forecasts (:attr:`EvaluationSums.probabilistic`)
ENSEMBLE_LABEL = "model ensemble"
GAUSSIAN_LABEL = "model (Gaussian)"
PERSISTENCE_ENSEMBLE_LABEL = "persistence ensemble"
SUN_FIXED_ENSEMBLE_LABEL = "sun-fixed persistence ensemble"
#: the baselines made from the last observed map and a climatology (:func:`baseline_forecasts`)
TRUTH_BASELINES = ("persistence", "sun_fixed", "climatology")


def lead_label(minutes: float) -> str:
    """One lead-time label: '+15 min', '+1 h', '+1.25 h' (as the demo); leads under a minute
    (video frames) in seconds or milliseconds: '+30 s', '+40 ms'."""
    if minutes >= 60:
        return f"+{minutes / 60:g} h"
    if minutes >= 1:
        return f"+{minutes:g} min"
    seconds = minutes * 60
    return f"+{seconds:g} s" if seconds >= 1 else f"+{seconds * 1000:g} ms"


def lead_labels(step_minutes: float, t_out: int) -> list[str]:
    """Lead-time labels of leads 1 .. t_out from the time step (:func:`lead_label`)."""
    return [lead_label(step_minutes * k) for k in range(1, t_out + 1)]


def _step_minutes(dataset) -> float:
    return float(np.timedelta64(dataset.time_step, "ns").astype(np.int64)) / 60e9


def _to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _loader(
    dataset, batch_size: int, num_workers: int = 0, pin_memory: bool = False
) -> tuple[DataLoader, bool]:
    """This rank's windows, unshuffled and without duplicates; ``(loader, dummy)``.
    ``pin_memory`` (for a CUDA device): page-locked batches, copied ``non_blocking``.

    A rank left without any window (fewer windows than ranks) gets window 0 with ``dummy``
    True: its batch is run but counts nothing, so every rank holds the same sums.
    """
    info = dist_info()
    sampler = ShardSampler(len(dataset), info, shuffle=False, pad=False)
    dummy = len(sampler) == 0
    if dummy:
        sampler = [0]
    loader = DataLoader(
        dataset, batch_size, sampler=sampler, num_workers=num_workers,
        generator=torch.Generator(), pin_memory=pin_memory,
    )  # fmt: skip
    return loader, dummy


def physical_bounds(dataset) -> list[float | None]:
    """The lower bound of each target channel (:func:`geostl.outputs.bounds.lower_bound`)."""
    units = getattr(dataset, "units", {}) or {}
    long_names = getattr(dataset, "long_names", {}) or {}
    return [
        lower_bound(n, {"units": units.get(n, ""), "long_name": long_names.get(n, "")})
        for n in dataset.target_names
    ]


def apply_bounds(pred: torch.Tensor, bounds: list[float | None]) -> tuple[torch.Tensor, list[int]]:
    """A physical forecast (B, T, C, H, W) with each channel's values below its bound set to
    it, as every output writes it; returns it and the count per channel."""
    if all(b is None for b in bounds):
        return pred, [0] * len(bounds)
    channels, counts = [], []
    for c, bound in enumerate(bounds):
        x, n = clip_lower(pred[:, :, c], bound)
        channels.append(x)
        counts.append(n)
    return torch.stack(channels, dim=2), counts


@torch.no_grad()
def predict_windows(
    model: torch.nn.Module,
    dataset,
    batch_size: int = 8,
    device: torch.device | str | None = None,
    shard: bool = False,
    with_std: bool = False,
) -> Iterator[Any]:
    """Yield ``(batch, pred_physical)`` for every window of ``dataset`` in order
    (``with_std``: ``(batch, pred_physical, std_physical)``, the last the forecast's standard
    deviation in physical units from the same forward pass for a ``model.output: gaussian``
    model, else None).

    ``batch`` is the CPU batch dict of the dataset (normalised, see geostl.data.windows);
    ``pred_physical`` is the forecast (B, T_out, C, H, W) float64 on the CPU in the target
    channels' physical units (``dataset.units``), padded grid included (padded pixels are
    invalid in ``batch["target_mask"]``), below-bound values of non-negative quantities set to
    the bound as in every output (:func:`apply_bounds`). ``shard=True`` gives this rank's
    windows only.
    """
    bounds = physical_bounds(dataset)
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    was_training = model.training
    model.eval()
    if shard:
        loader, dummy = _loader(dataset, batch_size, pin_memory=device.type == "cuda")
        if dummy:
            return
    else:
        loader = DataLoader(dataset, batch_size, shuffle=False, generator=torch.Generator(),
                            pin_memory=device.type == "cuda")  # fmt: skip
    try:
        for batch in loader:
            out = model(_to_device(batch, device))
            pred = out["pred"].detach().to("cpu", torch.float64)
            pred = dataset.normaliser.inverse(pred, dataset.target_names, axis=2)
            pred = apply_bounds(torch.as_tensor(pred), bounds)[0]
            if with_std:
                std = out.get("pred_std")
                yield batch, pred, None if std is None else physical_std(dataset, std)
            else:
                yield batch, pred
    finally:
        model.train(was_training)


def _global_in_longitude(lon: np.ndarray) -> bool:
    try:
        rotation_weights(lon, 0.0)
    except ValueError:
        return False
    return True


def area_weights(dataset) -> torch.Tensor:
    """(H, W) float64 weights of the sample grid: the dataset's area mask, times
    :func:`geostl.metrics.meridian_weights` of its longitudes on a geographic grid (a repeated
    meridian counts once); a pixel grid (``dataset.grid_kind == "pixel"``) has no longitudes
    and gets the area mask alone."""
    pixel = getattr(dataset, "grid_kind", "latlon") == "pixel"
    return grid_area_weights(dataset.area_mask, None if pixel else dataset.lon)


def grid_area_weights(area_mask: torch.Tensor | np.ndarray, lon: Any = None) -> torch.Tensor:
    """(H, W) float64 weights: ``area_mask`` (bool or non-negative weights) times
    :func:`geostl.metrics.meridian_weights` of the (W,) longitudes in degrees east (a repeated
    meridian counts once); ``lon=None`` (a pixel grid) gives the area mask alone."""
    area = torch.as_tensor(np.asarray(area_mask)).to(torch.float64)
    if lon is None:
        return area
    lon = np.asarray(lon, dtype=np.float64)
    return torch.ones(area.shape[0], 1, dtype=torch.float64) * meridian_weights(lon) * area


def _fit_climatologies(dataset, sources, train, by) -> list[Climatology]:
    if sources is None or train is None:
        raise ValueError(
            "evaluate: eval.baselines has 'climatology' but no `sources` and `train` split were "
            "given to fit it; pass them or remove 'climatology' from eval.baselines"
        )
    maps: xr.Dataset = sources[dataset.schema.target_source]
    split = getattr(train, "split", train)
    inside = np.flatnonzero(split.contains(maps["time"].values))
    if inside.size == 0:
        raise ValueError("evaluate: the train split holds no time of the target source")
    return [Climatology(by).fit(maps[v].isel(time=inside)) for v in dataset.target_names]


def baseline_forecasts(
    baselines: Sequence[str],
    last: torch.Tensor,
    last_ok: torch.Tensor,
    lead_hours: Any,
    *,
    lon: Any = None,
    climatologies: Sequence[Climatology] = (),
    valid_times: np.ndarray | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The baselines' forecasts from the last observed map, on the grid without padding.

    Args:
        baselines: some of :data:`TRUTH_BASELINES` (made in that order).
        last: (B, C, H, W) float64 last observed map (the issue time) in physical units, any
            value where ``last_ok`` is False (it is not used there).
        last_ok: (B, C, H, W) bool validity of ``last``.
        lead_hours: (T,) lead times in hours.
        lon: (W,) longitudes in degrees east covering the globe (``sun_fixed`` only).
        climatologies: one fitted :class:`geostl.baselines.Climatology` per channel, in
            channel order (``climatology`` only).
        valid_times: (B, T) datetime64[ns] valid time of each forecast map (``climatology``).

    Returns:
        ``({baseline: (B, T, C, H, W) float64 forecast, 0 where it has no value}, ok)`` with
        ``ok`` (B, T, C, H, W) bool: where every baseline has a value.
    """
    t_out = len(np.atleast_1d(lead_hours))
    ok = torch.ones((last.shape[0], t_out, *last.shape[1:]), dtype=torch.bool)
    refs: dict[str, torch.Tensor] = {}
    unknown = [b for b in baselines if b not in TRUTH_BASELINES]
    if unknown:
        raise ValueError(
            f"baseline_forecasts: {unknown} are not made from the last map; expected some of "
            f"{list(TRUTH_BASELINES)}"
        )
    for name in (b for b in TRUTH_BASELINES if b in baselines):
        if name == "persistence":
            f, good = persistence(last[:, None], t_out, last_ok[:, None])
        elif name == "sun_fixed":
            f, good = sun_fixed_persistence(last, lon, lead_hours, last_ok)
            f, good = f.movedim(-3, 1).contiguous(), good.movedim(-3, 1).contiguous()
        elif name == "climatology":
            if valid_times is None or len(climatologies) != last.shape[1]:
                raise ValueError(
                    "baseline_forecasts: climatology needs valid_times and one fitted "
                    f"Climatology per channel ({last.shape[1]}), got {len(climatologies)}"
                )
            c = torch.stack(
                [
                    torch.from_numpy(np.stack([cl.predict(t) for t in valid_times]))
                    for cl in climatologies
                ],
                dim=2,
            )
            f, good = torch.nan_to_num(c), torch.isfinite(c)
        refs[name] = torch.where(good, f.to(torch.float64), 0.0)
        ok = ok & good
    return refs, ok


class _ExtraBaselines:
    """The baselines read from files or models: 27-day persistence (the target source),
    IRI-2020 (PyIRI) and the external forecasts of ``eval.references``. Each gives, per batch,
    (B, T_out, C, H', W') float64 on the sample grid, NaN where it has no value."""

    def __init__(self, dataset, sources, cfg: EvalConfig, baselines: list[str]) -> None:
        from geostl.baselines.reference import check_reference
        from geostl.runconfig import open_sources

        self.dataset = dataset
        self.dims = dataset.axis.dims
        self.recurrence = "persistence_27d" in baselines
        self.iri = "iri" in baselines
        names = dataset.target_names
        if self.recurrence and sources is None:
            raise ValueError(
                "evaluate: eval.baselines has 'persistence_27d' but no `sources` were given to "
                "read the maps 27 days before from"
            )
        self.maps = sources[dataset.schema.target_source] if sources is not None else None
        if self.iri:
            from geostl.baselines.iri import require_pyiri

            require_pyiri()  # before any window is run
            self._iri_driver(dataset, sources, cfg.iri_f107)
        self.references = (
            open_sources(cfg.references, section="eval.references") if cfg.references else {}
        )
        grid = dict(zip(self.dims, (dataset.axis.rows, dataset.axis.cols), strict=True))
        for label, ref in self.references.items():
            check_reference(ref, names, grid, dataset.units, f"eval.references.{label}")

    def _iri_driver(self, dataset, sources, name: str) -> None:
        """The F10.7 of ``eval.iri_f107``: a scalar forcing channel of the run (its value at
        the issue step, ``self.f107`` (T,)) or ``SOURCE.VARIABLE`` of the sources
        (``self.f107_series``, read at the issue times by :func:`f107_at`)."""
        from geostl.outputs.netcdf import same_units

        bad = [n for n in dataset.target_names if not same_units(dataset.units.get(n, ""), "TECU")]
        if bad:
            raise ValueError(
                f"eval.baselines: iri forecasts TEC (TECU); the target(s) {bad} are not TEC"
            )
        self.f107 = dataset.forcings.series(name)
        self.f107_name, self.f107_series = name, None
        source, _, variable = name.partition(".")
        if self.f107 is None and variable and sources is not None and source in sources:
            if variable not in sources[source].data_vars:
                raise KeyError(
                    f"eval.iri_f107: source {source!r} has no variable {variable!r} "
                    f"(variables: {sorted(map(str, sources[source].data_vars))})"
                )
            self.f107_series = sources[source][variable]
        elif self.f107 is None:
            raise ValueError(
                f"eval.iri_f107: {name!r} is neither a scalar forcing channel of the run "
                f"(channels: {dataset.forcing_names}) nor SOURCE.VARIABLE of the sources "
                f"({sorted(sources or {})}); name the F10.7"
            )

    def forecasts(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        from geostl.baselines.recurrence import recurrence_forecast
        from geostl.baselines.reference import reference_files, reference_forecast

        if not (self.recurrence or self.iri or self.references):
            return {}
        d, adj = self.dataset, self.dataset.grid_adjust
        times = batch["times_out"].numpy().astype("datetime64[ns]")
        out = {}

        def stacked(planes: list[np.ndarray]) -> torch.Tensor:
            x = torch.from_numpy(np.stack(planes, axis=2))  # (B, T, C, H, W)
            return adj.apply(x, fill=float("nan"))

        if self.recurrence:
            assert self.maps is not None
            source = f"target source {d.schema.target_source!r} ({reference_files(self.maps)})"
            planes = [
                recurrence_forecast(self.maps[v], times, self.dims, where=f"{v} of the {source}")[0]
                for v in d.target_names
            ]
            out["persistence_27d"] = stacked(planes)
        if self.iri:
            from geostl.baselines.iri import f107_at, iri_tec

            if self.f107_series is not None:
                issue = batch["times_in"][:, -1].numpy().astype("datetime64[ns]")
                f107 = f107_at(self.f107_series, issue, f"eval.iri_f107 {self.f107_name}")
            else:
                f107 = self.f107[d.starts[batch["index"].numpy()] + d.t_in - 1]
            tec = iri_tec(times, d.axis.rows, d.axis.cols, f107)
            out["iri"] = stacked([tec] * len(d.target_names))
        for label, ref in self.references.items():
            where = f"eval.references.{label}"
            f, _ = reference_forecast(ref, d.target_names, times, self.dims, where)
            out[label] = adj.apply(torch.from_numpy(f), fill=float("nan"))
        return out


@dataclass
class EvaluationSums:
    """What :func:`evaluate_sums` accumulated, reduced over every rank.

    Attributes:
        metrics: ``{forecast label: ForecastMetrics}`` (the model and each baseline), sums in
            physical units; ``metrics[label].compute()`` is the table :func:`evaluate` returns.
        codebook_usage: one summary per SVQ module of the model
            (:meth:`CodebookUsageRecorder.summary`), or None when not recorded (no SVQ, or
            ``eval.codebook_usage: false``).
        clipped: ``{channel: count}`` of the model's forecast values below the channel's
            physical lower bound, set to it before scoring (as every output writes them), summed
            over the windows and ranks; channels without a bound are left out.
        probabilistic: ``{label: EnsembleMetrics}``: the model's ensemble
            (``eval.ensemble_members`` > 0), its Gaussian forecast (``model.output: gaussian``)
            and, beside either, the persistence ensemble (the last input maps held), all on the
            same pixels; empty for a deterministic evaluation.
    """

    metrics: dict[str, ForecastMetrics]
    codebook_usage: list[dict[str, Any]] | None = None
    clipped: dict[str, int] | None = None
    probabilistic: dict[str, EnsembleMetrics] = field(default_factory=dict)

    def tables(self) -> dict[str, MetricTable]:
        """``{forecast label: MetricTable}`` as :func:`evaluate` returns them."""
        return {label: m.compute() for label, m in self.metrics.items()}

    def probabilistic_tables(self) -> dict[str, MetricTable]:
        """``{label: MetricTable}`` of the probabilistic forecasts (:data:`ENSEMBLE_LABEL`,
        :data:`GAUSSIAN_LABEL`, :data:`PERSISTENCE_ENSEMBLE_LABEL`); empty when none was
        scored."""
        return {label: m.compute() for label, m in self.probabilistic.items()}


def evaluate(
    model: torch.nn.Module,
    dataset,
    eval_cfg: EvalConfig | Mapping[str, Any] | None = None,
    sources: Mapping[str, xr.Dataset] | None = None,
    train=None,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> dict[str, MetricTable]:
    """Score the model and the baselines on ``dataset`` (a WindowDataset, e.g. the test split).

    Args:
        model: a Forecaster (``model(batch)["pred"]`` normalised (B, T_out, C, H, W)).
        dataset: the split to score.
        eval_cfg: uses ``batch_size``, ``baselines`` and ``climatology_by``.
        sources: the source datasets (needed for the climatology).
        train: the train split (a WindowDataset or a ``geostl.data.Split``) the climatology is
            fitted on.
        device: where the model runs (default: the device of its parameters).
        progress: show a tqdm bar (rank 0 only).

    Returns:
        ``{"model": table, "persistence": table, ...}`` (labels of ``BASELINE_LABELS``), every
        metric in physical units, reduced over all ranks.
    """
    sums = evaluate_sums(
        model, dataset, eval_cfg, sources, train, device, progress, codebook_usage=False
    )
    return sums.tables()


def evaluate_sums(
    model: torch.nn.Module,
    dataset,
    eval_cfg: EvalConfig | Mapping[str, Any] | None = None,
    sources: Mapping[str, xr.Dataset] | None = None,
    train=None,
    device: torch.device | str | None = None,
    progress: bool = False,
    codebook_usage: bool | None = None,
) -> EvaluationSums:
    """The pass of :func:`evaluate`, returning the reduced sums instead of the tables.

    Same arguments as :func:`evaluate`, plus ``codebook_usage``: record the SVQ code-usage
    histograms (default: ``eval_cfg.codebook_usage``); ignored for a model without SVQ.

    Returns:
        an :class:`EvaluationSums`: the ForecastMetrics of the model and of every baseline
        (labels of ``BASELINE_LABELS``) and the code-usage summaries, all reduced over ranks.
    """
    cfg = eval_cfg if isinstance(eval_cfg, EvalConfig) else EvalConfig.from_dict(eval_cfg)
    names = dataset.target_names
    pixel = getattr(dataset, "grid_kind", "latlon") == "pixel"
    adj = dataset.grid_adjust
    baselines = list(cfg.baselines)
    if pixel:
        lon, w_eff = np.zeros(0), 0
        if "sun_fixed" in baselines:
            warnings.warn(
                "evaluate: sun_fixed persistence left out: the grid is a pixel grid "
                "(no longitudes)",
                stacklevel=2,
            )
            baselines.remove("sun_fixed")
    else:
        lon = np.asarray(dataset.lon, dtype=np.float64)
        w_eff = adj.undo(torch.zeros(1, len(dataset.lat), len(lon))).shape[-1]
        if "sun_fixed" in baselines and not _global_in_longitude(lon[:w_eff]):
            warnings.warn(
                "evaluate: sun_fixed persistence left out: the grid is not global in longitude",
                stacklevel=2,
            )
            baselines.remove("sun_fixed")
    clims = (
        _fit_climatologies(dataset, sources, train, cfg.climatology_by)
        if "climatology" in baselines
        else []
    )
    extra = _ExtraBaselines(dataset, sources, cfg, baselines)
    step_min = _step_minutes(dataset)
    leads = lead_labels(step_min, dataset.t_out)
    lead_hours = np.arange(1, dataset.t_out + 1) * step_min / 60.0
    area = area_weights(dataset)
    labels = [MODEL_LABEL] + [BASELINE_LABELS[b] for b in baselines] + list(extra.references)
    lat = None if pixel else dataset.lat
    metrics = {
        f: ForecastMetrics(names, leads, lat=lat, area_mask=area, units=dataset.units)
        for f in labels
    }
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    # the truth and the baselines' inputs as stored (physical units), not through the float32
    # normalisation: scores recomputed from the data and a written forecast then agree
    physical = hasattr(dataset, "with_physical_values")
    loader, dummy = _loader(
        dataset.with_physical_values() if physical else dataset, cfg.batch_size,
        pin_memory=device.type == "cuda",
    )  # fmt: skip
    was_training = model.training
    model.eval()
    bar = loader
    if progress and dist_info().is_main:
        from tqdm.auto import tqdm

        bar = tqdm(loader, desc="evaluate", leave=False)
    record = cfg.codebook_usage if codebook_usage is None else codebook_usage
    usage = CodebookUsageRecorder(model)
    bounds = physical_bounds(dataset)
    clipped = torch.zeros(len(names), dtype=torch.float64)
    members = (
        EnsembleMembers(
            model, cfg.ensemble_method, cfg.ensemble_members, cfg.ensemble_perturb_std,
            cfg.ensemble_checkpoints, cfg.ensemble_seed, dataset.normaliser.state_dict(), device,
        )
        if cfg.ensemble_members > 0
        else None
    )  # fmt: skip
    lagged = _persistence_members(cfg, dataset.t_in)
    probabilistic: dict[str, EnsembleMetrics] = {}

    def scores(label: str) -> EnsembleMetrics:
        if label not in probabilistic:
            probabilistic[label] = EnsembleMetrics(
                names, leads, lat=lat, area_mask=area, units=dataset.units,
                thresholds=cfg.thresholds, coverage=cfg.coverage,
            )  # fmt: skip
        return probabilistic[label]

    try:
        with torch.no_grad(), usage:
            usage.counting = bool(record) and not dummy  # a dummy batch counts nothing
            for batch in bar:
                on_device = _to_device(batch, device)
                out = model(on_device)
                pred = out["pred"].to("cpu", torch.float64)
                pred = torch.as_tensor(dataset.normaliser.inverse(pred, names, axis=2))
                pred, counts = apply_bounds(pred, bounds)
                if not dummy:
                    clipped += torch.tensor(counts, dtype=torch.float64)
                if physical:
                    x = torch.nan_to_num(batch["last_input_physical"].double())[:, None]
                    y = torch.nan_to_num(batch["targets_physical"].double())
                else:
                    x = dataset.normaliser.inverse(batch["inputs"].double(), names, axis=2)
                    y = dataset.normaliser.inverse(batch["targets"].double(), names, axis=2)
                valid = batch["target_mask"].clone()
                if dummy:
                    valid.zero_()
                refs, ok = baseline_forecasts(
                    [b for b in baselines if b in TRUTH_BASELINES],
                    adj.undo(x[:, -1]),
                    adj.undo(batch["input_mask"][:, -1]),
                    lead_hours,
                    lon=lon[:w_eff],
                    climatologies=clims,
                    valid_times=batch["times_out"].numpy().astype("datetime64[ns]"),
                )
                refs = {b: adj.apply(f, fill=0.0) for b, f in refs.items()}
                valid = valid & adj.apply(ok, fill=False)
                for key, c in extra.forecasts(batch).items():
                    valid = valid & torch.isfinite(c)
                    refs[key] = torch.nan_to_num(c)
                metrics[MODEL_LABEL].update(pred, y, valid, references=refs)
                for b, f in refs.items():
                    metrics[BASELINE_LABELS.get(b, b)].update(f, y, valid)
                std = out.get("pred_std")
                if members is None and std is None:
                    continue
                # every probabilistic forecast on the pixels where the lagged maps exist too
                held, held_ok = _lagged_persistence(batch, dataset, lagged, x[:, -1], adj)
                ens_valid = valid & held_ok
                turned = None
                if "sun_fixed" in baselines:
                    turned, turned_ok = _lagged_persistence(
                        batch, dataset, lagged, x[:, -1], adj, (lon[:w_eff], step_min / 60.0)
                    )
                    ens_valid = ens_valid & turned_ok
                if std is not None:
                    std = physical_std(dataset, std)
                    scores(GAUSSIAN_LABEL).update_gaussian(pred, std, y, ens_valid)
                if members is not None:
                    ens = members(on_device, _forward_pred, out["pred"])
                    ens = ens.to("cpu", torch.float64)
                    size = ens.shape[:2]
                    ens = dataset.normaliser.inverse(ens.flatten(0, 1), names, axis=2)
                    ens = apply_bounds(torch.as_tensor(ens), bounds)[0]
                    scores(ENSEMBLE_LABEL).update(ens.unflatten(0, size), y, ens_valid)
                scores(PERSISTENCE_ENSEMBLE_LABEL).update(held, y, ens_valid)
                if turned is not None:
                    scores(SUN_FIXED_ENSEMBLE_LABEL).update(turned, y, ens_valid)
    finally:
        model.train(was_training)
    for m in metrics.values():
        m.all_reduce()
    for e in probabilistic.values():
        e.all_reduce()
    clipped = all_reduce_sum(clipped)
    summary = usage.all_reduce().summary() if record and usage else None
    per_channel = {n: int(clipped[c]) for c, n in enumerate(names) if bounds[c] is not None}
    return EvaluationSums(metrics, summary, per_channel, probabilistic)


def physical_std(dataset, std: torch.Tensor) -> torch.Tensor:
    """A forecast's standard deviation (B, T, C, H, W) in normalised units -> float64 on the
    CPU in the target channels' physical units (the normaliser's scale: y = x s + o, so a
    spread scales by s alone)."""
    std = std.to("cpu", torch.float64)
    names = dataset.target_names
    zero = torch.zeros_like(std)
    inverse = dataset.normaliser.inverse
    return torch.as_tensor(inverse(std, names, axis=2)) - torch.as_tensor(
        inverse(zero, names, axis=2)
    )


def _forward_pred(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return model(batch)["pred"]


def _persistence_members(cfg: EvalConfig, t_in: int) -> int:
    """Members of the persistence ensemble: ``eval.persistence_members`` or every input map."""
    n = cfg.persistence_members if cfg.persistence_members is not None else t_in
    if n > t_in:
        raise ValueError(
            f"eval.persistence_members: {n} members, but a window has only t_in = {t_in} input "
            "maps to hold"
        )
    return n


def _lagged_persistence(
    batch: Mapping[str, torch.Tensor],
    dataset,
    n: int,
    last: torch.Tensor,
    adj,
    sun_fixed: tuple[np.ndarray, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The persistence ensemble: member k holds the input map k steps before the issue time
    (k = 0 .. n - 1; member 0 is persistence) at every lead, in physical units. With
    ``sun_fixed = (lon, step_hours)`` (a grid global in longitude) member k is instead that map
    turned westward with the Sun by ``lead + k step`` hours (member 0: sun-fixed persistence).

    Args:
        batch: the CPU batch (``inputs`` normalised, ``input_mask``, ``target_mask``).
        last: (B, C, H, W) float64 the last input map in physical units (as read).

    Returns:
        ``(members (n, B, T_out, C, H, W) float64, ok (B, T_out, C, H, W) bool)``: ``ok`` where
        every member is valid.
    """
    names = dataset.target_names
    t_out = batch["target_mask"].shape[1]
    inputs = batch["inputs"][:, -n:].double()
    maps = torch.as_tensor(dataset.normaliser.inverse(inputs, names, axis=2)).flip(1)
    maps[:, 0] = last
    masks = batch["input_mask"][:, -n:].flip(1)
    if sun_fixed is None:
        ok = masks.all(dim=1)
        held = maps.movedim(1, 0)[:, :, None].expand(-1, -1, t_out, -1, -1, -1)
        held = torch.where(ok[None, :, None], held, 0.0)
        return held, ok[:, None].expand(-1, t_out, -1, -1, -1)
    lon, step = sun_fixed
    lead_hours = np.arange(1, t_out + 1) * step
    members, oks = [], []
    for k in range(n):
        f, good = sun_fixed_persistence(
            adj.undo(maps[:, k]), lon, lead_hours + k * step, adj.undo(masks[:, k])
        )
        f, good = f.movedim(-3, 1), good.movedim(-3, 1)  # (B, T, C, H', W')
        members.append(adj.apply(torch.where(good, f, 0.0), fill=0.0))
        oks.append(adj.apply(good, fill=False))
    ok = torch.stack(oks).all(dim=0)
    return torch.where(ok[None], torch.stack(members), 0.0), ok
