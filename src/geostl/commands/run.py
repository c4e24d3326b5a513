"""What the ``geostl train / test / predict`` commands do, as functions.

The flow is one-directional: a resolved run config -> sources (readers) -> windowed datasets
(normaliser fitted on train, or taken from a checkpoint) -> Forecaster -> Trainer -> the best
checkpoint -> evaluation on the test split against the baselines -> tables, figures, NetCDF.

Everything a run writes lands in its run directory::

    config.yaml           the resolved config
    best.pt, last.pt      self-describing checkpoints (torch.load(weights_only=True))
    epochs.jsonl/.csv     one line per epoch
    metrics.json          {forecast: MetricTable} for the model and every baseline; for sets
                          of variables on levels also "variables" (pooled per variable) and
                          "mean_over_variables"; "codebook_usage" for a model with an SVQ
    metrics.md            RMSE per lead beside the baselines, and the model's full table
                          (per variable first when channels are variables on levels; the SVQ
                          code usage last)
    rmse_by_lead.png      RMSE per lead, model against the baselines
    forecast_maps.png     truth / forecast / error maps at several leads for one test window
    forecast.gif          truth and forecast through the lead times
    forecast.nc           (geostl predict) forecasts with the input's coordinates
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from geostl.data import build_datasets
from geostl.engine import (
    EvalConfig,
    Trainer,
    build_model_from_checkpoint,
    dist_info,
    load_checkpoint,
    normaliser_from_checkpoint,
    predict_windows,
    seed_everything,
)
from geostl.engine.evaluate import evaluate_sums
from geostl.metrics import MetricTable, compare_tables
from geostl.metrics.channel_groups import (
    mean_over_variables,
    variable_groups,
    variable_tables,
)
from geostl.metrics.table import preferred_weighting
from geostl.models import build_forecaster, meta_from_dataset
from geostl.outputs import (
    forecast_dataset,
    plot_forecast_maps,
    plot_metric_by_lead,
    write_forecast,
    write_forecast_gif,
)
from geostl.outputs.figures import window_forecast
from geostl.outputs.metrics_sections import codebook_usage_section, variable_sections
from geostl.outputs.probabilistic import (
    crps_table,
    plot_spread_maps,
    plot_spread_skill,
    probabilistic_markdown,
    window_spread,
)
from geostl.runconfig import (
    ConfigError,
    merge,
    open_sources,
    parse_override,
    run_dir,
    save_config,
)

#: more target channels than this: the terminal shows the per-variable tables only
MAX_PRINTED_CHANNELS = 8

ORACLE_NOTE = (
    "NOTE: this run fed the true future values of observed drivers to the model "
    "(future_forcings: oracle); its skill is not reachable in real forecasting."
)


def data_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The run config's ``data`` section without ``sources`` (the DataConfig dict)."""
    return {k: v for k, v in cfg["data"].items() if k != "sources"}


def prepare(cfg: Mapping[str, Any], normaliser=None, sources=None) -> tuple[dict, dict]:
    """Open the sources (unless already opened ones are given) and build the windowed
    datasets of every split."""
    if sources is None:
        sources = open_sources(cfg["data"]["sources"])
    datasets = build_datasets(data_section(cfg), sources, normaliser=normaliser)
    return sources, datasets


def train(
    cfg: Mapping[str, Any],
    resume: str | Path | None = None,
    progress: bool | None = None,
    figures: bool = True,
    sources: Mapping[str, Any] | None = None,
    quiet: bool = False,
) -> Path:
    """Train the configured model, then evaluate its best checkpoint on the test split.

    ``figures=False`` writes the test tables without the maps, plot and GIF; ``sources``
    are the already opened ``data.sources`` of ``cfg`` (``geostl grid`` opens them once).
    Returns the run directory.
    """
    seed_everything(int(cfg["train"]["seed"]))
    out = run_dir(cfg)
    check_writable(out)
    sources, datasets = prepare(cfg, sources=sources)
    model = build_forecaster(cfg["model"], meta_from_dataset(datasets["train"]))
    if dist_info().is_main:
        save_config(cfg, out / "config.yaml")
        _say_policy(datasets["train"])
    trainer = Trainer(
        model, datasets, cfg["train"], cfg["eval"], out, dict(cfg), progress, resume=resume,
        quiet=quiet,
    )  # fmt: skip
    summary = trainer.fit()
    if dist_info().is_main:
        print(
            f"trained {summary['global_step']} steps; best validation loss "
            f"{summary['best_val_loss']:.6g} at epoch {summary['best_epoch']} "
            f"({summary['stop_reason']})"
        )
    if "test" in datasets:
        best = out / "best.pt"
        model = build_model_from_checkpoint(load_checkpoint(best))
        evaluate_and_report(model, datasets, sources, cfg, out, f"{best}", progress, figures)
    return out


def check_writable(folder: Path) -> None:
    """Create the run folder and write a probe file in it; ``PermissionError`` naming the
    folder and ``run.dir`` when that fails (before any data are read)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            err.errno,
            f"run folder {folder} is not writable ({err.strerror or err}); choose another with "
            "run.dir=PATH",
        ) from err


def _say_policy(dataset) -> None:
    if dataset.uses_future_observed:
        print(ORACLE_NOTE)


def evaluate_and_report(
    model: torch.nn.Module,
    datasets: Mapping[str, Any],
    sources: Mapping[str, Any],
    cfg: Mapping[str, Any],
    out: Path,
    label: str,
    progress: bool | None = None,
    figures: bool = True,
) -> dict[str, MetricTable]:
    """Score ``model`` and the baselines on the test split; write tables (and figures).

    When the target channels are variables on levels (``r_150, r_500, ...``) the tables are
    also pooled per variable, on the sums reduced over every process; a model with an SVQ
    also reports its code usage (``eval.codebook_usage``).
    """
    test = datasets["test"]
    eval_cfg = EvalConfig.from_dict(cfg["eval"])
    sums = evaluate_sums(
        model, test, eval_cfg, sources, train=datasets.get("train"), progress=bool(progress)
    )
    tables = sums.tables()
    probabilistic = sums.probabilistic_tables()
    if not dist_info().is_main:
        return tables
    out.mkdir(parents=True, exist_ok=True)
    groups = variable_groups(test.target_names, test.units)
    variables = variable_tables(sums.metrics, groups) if groups else None
    write_tables(
        tables, test, out, label, groups, variables, sums.codebook_usage, sums.clipped,
        probabilistic,
    )  # fmt: skip
    if figures:
        write_figures(model, test, tables, eval_cfg, out, probabilistic)
    return tables


def write_tables(
    tables: Mapping[str, MetricTable],
    test,
    out: Path,
    label: str,
    groups: Mapping[str, list[str]] | None = None,
    variables: Mapping[str, MetricTable] | None = None,
    codebook_usage: list[dict[str, Any]] | None = None,
    clipped: Mapping[str, int] | None = None,
    probabilistic: Mapping[str, MetricTable] | None = None,
) -> None:
    """metrics.json (every table), metrics.md (RMSE beside the baselines + model table).

    A run fed observed future drivers (``oracle``) says so in every output: ``warning`` in
    metrics.json, the note above and below the tables of metrics.md, and below the printed
    table.

    ``groups`` / ``variables``: ``{variable: [channel, ...]}`` and the per-variable tables of
    every forecast (:func:`geostl.metrics.channel_groups.variable_tables`); they add
    ``variable_groups``, ``variables`` and ``mean_over_variables`` to metrics.json and a
    per-variable section to metrics.md. With more than :data:`MAX_PRINTED_CHANNELS` channels
    the terminal shows the per-variable tables only. ``codebook_usage``: the SVQ summaries
    (``codebook_usage`` in metrics.json, a last section in metrics.md). ``clipped``: how many
    model values below a channel's physical lower bound were set to it before scoring
    (``clipped_below_lower_bound`` in metrics.json).
    """
    oracle = bool(test.uses_future_observed)
    combined: dict[str, Any] = {
        "checkpoint": label,
        "future_forcings": test.future_forcings,
        "tables": {name: table.to_dict() for name, table in tables.items()},
    }
    mean = {}
    if variables:
        if groups is None:
            raise ValueError("write_tables: variables given without their groups")
        mean = {name: mean_over_variables(table) for name, table in variables.items()}
        combined["variable_groups"] = {v: list(c) for v, c in groups.items()}
        combined["variables"] = {name: table.to_dict() for name, table in variables.items()}
        combined["mean_over_variables"] = {name: table.to_dict() for name, table in mean.items()}
    if codebook_usage:
        combined["codebook_usage"] = list(codebook_usage)
    if clipped:
        combined["clipped_below_lower_bound"] = dict(clipped)
    if probabilistic:
        combined["probabilistic"] = {n: t.to_dict() for n, t in probabilistic.items()}
    if oracle:
        combined["warning"] = ORACLE_NOTE
    (out / "metrics.json").write_text(json.dumps(combined, indent=1, allow_nan=False) + "\n")
    parts = [f"# Test metrics of {label}\n"]
    if test.uses_future_observed:
        parts.append(ORACLE_NOTE + "\n")
    names = test.target_names
    per_channel_printed = not variables or len(names) <= MAX_PRINTED_CHANNELS
    if variables:
        assert groups is not None
        text, printed = variable_sections(variables, mean, groups, [ORACLE_NOTE] if oracle else [])
        parts += [text, "## Per channel\n"]
    weighting = preferred_weighting(tables["model"].weightings("rmse"))  # lat; plain on pixels
    for channel in test.target_names:
        rmse = compare_tables(tables, metric="rmse", channel=channel, weighting=weighting)
        if oracle:
            rmse.notes.append(ORACLE_NOTE)
        text = rmse.to_markdown()
        parts.append(text + "\n")
        if per_channel_printed:
            print(f"\nRMSE ({test.units.get(channel, '')}) of {channel} on the test split:\n")
            print(text)
        model = tables["model"]
        weighted = [m for m in model.metrics() if weighting in model.weightings(m)]
        pivot = model.pivot(channel, weighting=weighting, metrics=weighted)
        if oracle:
            pivot.notes.append(ORACLE_NOTE)
        parts.append(pivot.to_markdown() + "\n")
    if variables:
        print("\nPer variable on the test split:\n")
        print("\n".join(printed))
        if not per_channel_printed:
            print(f"(the {len(names)} per-channel tables are in {out / 'metrics.md'})")
    if probabilistic:
        parts.append(probabilistic_markdown(tables, probabilistic, names, weighting))
        if per_channel_printed:
            for channel in names:
                crps = crps_table(tables, probabilistic, channel, weighting)
                print(f"\nCRPS ({test.units.get(channel, '')}) of {channel} on the test split:\n")
                print(crps.to_markdown())
    if codebook_usage:
        usage = codebook_usage_section(codebook_usage)
        parts.append(usage)
        print("\n" + usage)
    (out / "metrics.md").write_text("\n".join(parts))


def write_figures(
    model,
    test,
    tables,
    eval_cfg: EvalConfig,
    out: Path,
    probabilistic: Mapping[str, MetricTable] | None = None,
) -> None:
    """RMSE-by-lead plot, truth/forecast/error maps and a GIF for one test window; with
    probabilistic tables also spread_skill.png and spread_maps.png."""  # fmt: skip
    channel = test.target_names[0]
    weighting = preferred_weighting(tables["model"].weightings("rmse"))
    plot_metric_by_lead(out / "rmse_by_lead.png", tables, channel, "rmse", weighting)
    window = window_forecast(model, test, eval_cfg.figure_window)
    truth, pred = window.pop("truth"), window.pop("pred")
    rows, cols = window.pop("rows"), window.pop("cols")
    plot_forecast_maps(
        out / "forecast_maps.png", truth, pred, rows, cols, leads=eval_cfg.figure_leads, **window
    )
    write_forecast_gif(out / "forecast.gif", truth, pred, rows, cols, **window)
    if probabilistic:
        plot_spread_skill(out / "spread_skill.png", probabilistic, channel, weighting)
        spread = window_spread(model, test, eval_cfg, eval_cfg.figure_window)
        if spread is not None:
            t, m, s = spread.pop("truth"), spread.pop("mean"), spread.pop("spread")
            r, c = spread.pop("rows"), spread.pop("cols")
            plot_spread_maps(
                out / "spread_maps.png", t, m, s, r, c, leads=eval_cfg.figure_leads, **spread
            )


def test_checkpoint(
    ckpt_path: str | Path,
    out: str | Path | None = None,
    progress: bool | None = None,
    overrides: Sequence[str] = (),
    data: Sequence[str] = (),
) -> dict[str, MetricTable]:
    """``geostl test``: evaluate a checkpoint on its config's test split (no other file).

    ``overrides``: dotted ``eval.KEY=VALUE`` settings for this evaluation (baselines, batch
    size, ``codebook_usage`` ...); the model stays the checkpoint's. ``data``: ``NAME=PATH``
    items re-pointing sources to other files (:func:`geostl.forecast.inputs.with_data`).
    """
    from geostl.forecast.inputs import with_data

    ckpt = load_checkpoint(ckpt_path)
    cfg = with_data(with_eval_overrides(ckpt["config"], overrides), data)
    sources, datasets = prepare(cfg, normaliser=normaliser_from_checkpoint(ckpt))
    if "test" not in datasets:
        raise KeyError(f"{ckpt_path}: the run config has no test split (data.splits.test)")
    model = build_model_from_checkpoint(ckpt)
    target = Path(out) if out is not None else Path(ckpt_path).parent / "test"
    return evaluate_and_report(model, datasets, sources, cfg, target, str(ckpt_path), progress)


def with_eval_overrides(cfg: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``cfg`` with dotted ``eval.*`` overrides merged in and the eval section validated.

    Raises:
        ConfigError: an override outside ``eval`` (a checkpoint's model and data are fixed) or
            not of the form ``eval.KEY=VALUE``; ValueError/KeyError from the eval validation.
    """
    out = dict(cfg)
    for text in overrides:
        layer = parse_override(text)
        if set(layer) != {"eval"}:
            raise ConfigError(
                f"override {text!r}: only eval.* settings can change at test time (the model, "
                "data and training are the checkpoint's)"
            )
        out = merge(out, layer)
    EvalConfig.from_dict(out.get("eval"))
    return out


def whole_axis(split_dataset, sources: Mapping[str, Any]):
    """A WindowDataset over every window of the target axis, built from the parts (axis,
    normaliser, grid, static planes) of one split's ``split_dataset``; the forcings are
    aligned anew for every time of the axis."""
    from geostl.data import WindowDataset

    d = split_dataset
    return WindowDataset(
        d.schema,
        dict(sources),
        d.normaliser,
        d.t_in,
        d.t_out,
        d.stride,
        None,
        d.future_forcings,
        d.grid_adjust,
        d.axis,
    )


def predict_to_netcdf(
    ckpt_path: str | Path,
    out: str | Path,
    split: str = "test",
    batch_size: int = 8,
    data: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> Path:
    """``geostl predict``: forecasts for every window of ``split`` written as NetCDF;
    ``split="all"``: every window of the whole target axis, splits and the gaps between them
    included (truth is not needed: windows are those with ``t_in + t_out`` regular steps);
    ``data``: ``NAME=PATH`` items re-pointing sources (as for :func:`test_checkpoint`).

    ``overrides``: ``eval.*`` settings; with ``eval.ensemble_members`` > 0 the file holds the
    ensemble, every variable with a leading ``member`` dimension (the members of
    :class:`geostl.engine.ensemble.EnsembleMembers`). A model with ``output: gaussian`` also
    writes ``<name>_std``, the standard deviation of its forecast distribution."""
    from geostl.engine.ensemble import EnsembleMembers
    from geostl.engine.evaluate import _forward_pred, apply_bounds, physical_bounds
    from geostl.forecast.inputs import with_data

    ckpt = load_checkpoint(ckpt_path)
    cfg = with_data(with_eval_overrides(ckpt["config"], overrides), data)
    if cfg.get("task") is not None:
        raise ValueError(
            f"{ckpt_path}: a {cfg['task']!r} task checkpoint; geostl predict writes the gridded "
            "forecasts of Forecaster runs only (the task's geostl test writes its outputs)"
        )
    sources, datasets = prepare(cfg, normaliser=normaliser_from_checkpoint(ckpt))
    if split == "all":
        dataset = whole_axis(next(iter(datasets.values())), sources)
    elif split not in datasets:
        raise KeyError(
            f"{ckpt_path}: no split {split!r} in the run config ({sorted(datasets)}, or all)"
        )
    else:
        dataset = datasets[split]
    model = build_model_from_checkpoint(ckpt)
    eval_cfg = EvalConfig.from_dict(cfg["eval"])
    names = dataset.target_names
    members = None
    if eval_cfg.ensemble_members > 0:
        members = EnsembleMembers(
            model, eval_cfg.ensemble_method, eval_cfg.ensemble_members,
            eval_cfg.ensemble_perturb_std, eval_cfg.ensemble_checkpoints,
            eval_cfg.ensemble_seed, dataset.normaliser.state_dict(),
        )  # fmt: skip
    preds, stds, inits = [], [], []
    model.eval()
    with torch.no_grad():
        # one forward pass per batch for the forecast and its Gaussian std; an ensemble's
        # members are M more (the std of a Gaussian model then still comes from the first)
        for batch, pred, std in predict_windows(model, dataset, batch_size, with_std=True):
            inits.append(batch["times_in"][:, -1])
            if std is not None:
                stds.append(std)
            if members is None:
                preds.append(pred[None])  # float64, physical: the file's values are the scored
                continue
            device = next(model.parameters()).device
            on_device = {k: v.to(device) for k, v in batch.items()}
            ens = members(on_device, _forward_pred).to("cpu", torch.float64)
            ens = dataset.normaliser.inverse(ens.flatten(0, 1), names, axis=2)
            ens = apply_bounds(torch.as_tensor(ens), physical_bounds(dataset))[0]
            preds.append(ens.unflatten(0, (members.members, pred.shape[0])))
    times = dataset.window_times(0)
    leads = times[dataset.t_in :] - times[dataset.t_in - 1]
    init_times = torch.cat(inits).numpy()

    def layout(values: np.ndarray, suffix: str = "", what: str = ""):
        return forecast_dataset(
            values, init_times, leads, dataset.rows, dataset.cols,
            [f"{n}{suffix}" for n in names],
            {f"{n}{suffix}": u for n, u in dataset.units.items()},
            long_names={f"{n}{suffix}": f"{what}{dataset.long_names.get(n, n)}" for n in names},
            grid_adjust=dataset.grid_adjust, area_mask=dataset.area_mask.numpy(),
            model=str(cfg["model"]["backbone"]["name"]), config=cfg,
            future_forcings=dataset.future_forcings, grid=dataset.grid_kind,
            standard_names=None if suffix else dataset.standard_names, dtype=np.float64,
        )  # fmt: skip

    allp = torch.cat(preds, dim=1).numpy()
    if members is None:
        ds = layout(allp[0])
    else:
        import xarray as xr

        ds = xr.concat([layout(m) for m in allp], dim="member", combine_attrs="override")
        ds = ds.assign_coords(member=np.arange(allp.shape[0]))
        ds["member"].attrs.update({"long_name": "ensemble member", "units": "1"})
        ds.attrs["ensemble"] = (
            f"{members.members} members, method {members.method}"
            + (f", input noise std {members.perturb_std} (normalised units)"
               if members.method == "perturb" else "")
            + f", seed {members.seed}"
        )  # fmt: skip
    if stds:
        std_ds = layout(torch.cat(stds).numpy(), "_std", "standard deviation of the forecast of ")
        for n in names:
            ds[f"{n}_std"] = std_ds[f"{n}_std"]
    return write_forecast(ds, out)
