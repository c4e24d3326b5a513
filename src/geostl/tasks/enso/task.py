"""The ``enso`` task: the ENSO multi-task ConvLSTM trained and scored through the one pipeline.

``geostl train --config configs/enso/enso_convlstm_ersst.yaml`` (a config with ``task: enso``,
keys in :mod:`geostl.tasks.enso.schema`) opens the sources, builds the windows
(:mod:`geostl.tasks.enso.dataset`), trains :class:`EnsoForecaster` with
:class:`geostl.engine.Trainer` (checkpoints ``best.pt`` / ``last.pt``, resume, early stopping,
DDP) and scores ``best.pt`` on the test split. ``geostl test --ckpt RUN/best.pt`` rebuilds
everything from the checkpoint and gives the same numbers.

Scores (additive sums, :mod:`geostl.tasks.enso.scores`) for the model and two baselines on
the same test windows:

- **persistence**: the last input month's index anomaly at every lead; phase by the ±0.5 °C
  threshold on that anomaly;
- **climatology**: the train months' mean index of the target's calendar month; phase = the
  most frequent train phase of that month.

The model's phase head also gets probabilistic scores (the softmax of its logits,
:class:`geostl.tasks.enso.scores.PhaseProbabilitySums`): Brier score, RPS over La Niña <
neutral < El Niño and its skill against the train split's phase frequencies, the log score,
the mean probability of the true phase and a reliability table (``phase_reliability.png``).

The SST head's lead-1 field also gives a Niño 3.4 index the Earthformer way (box mean minus
the train months' box-mean climatology), scored against the observed index; the same route
on the observed field checks the derivation itself.

``geostl.load(ckpt).forecast(sst)`` calls the task's ``forecast``,
:func:`geostl.tasks.enso.forecast.forecast_enso`: the index and phase forecast from the SST
months up to an issue month.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from geostl.engine import Trainer, dist_info
from geostl.engine.checkpoint import (
    build_model_from_checkpoint,
    load_checkpoint,
    seed_everything,
)
from geostl.engine.distributed import ShardSampler, all_reduce_sum
from geostl.metrics.table import _atomic_write
from geostl.runconfig import ConfigError, open_sources, run_dir, save_config
from geostl.tasks.enso.dataset import EnsoDataset, build_enso_datasets
from geostl.tasks.enso.figures import plot_confusion, plot_index_forecasts, plot_reliability
from geostl.tasks.enso.forecast import forecast_enso
from geostl.tasks.enso.forecaster import NET_KEYS, EnsoForecaster, build_enso_model
from geostl.tasks.enso.schema import ENSO_SPEC
from geostl.tasks.enso.scores import (
    LOG_FLOOR,
    PHASES,
    IndexSums,
    PhaseProbabilitySums,
    phase_frequencies,
    threshold_phase,
)
from geostl.tasks.enso.targets import NINO34_LAT, NINO34_LON
from geostl.tasks.registry import TASKS, Task

__all__ = ["evaluate_enso", "test_enso", "train_enso"]

METHODS = ("model", "persistence", "climatology")


def prepare(cfg: Mapping[str, Any]) -> dict[str, EnsoDataset]:
    """Open the run config's sources and build the train / val / test windows."""
    return build_enso_datasets(cfg["data"], open_sources(cfg["data"]["sources"]))


def model_for(cfg: Mapping[str, Any], datasets: Mapping[str, EnsoDataset]) -> EnsoForecaster:
    """The configured model on the datasets' grid, with their ocean mask."""
    width, height = datasets["train"].grid
    net = {k: cfg["model"][k] for k in NET_KEYS}
    model = EnsoForecaster(
        width, height, datasets["train"].n_leads, cfg["model"]["loss_weights"], **net
    )
    model.ocean.copy_(torch.from_numpy(datasets["train"].context.ocean.T.copy()))
    return model


def train_enso(
    cfg: Mapping[str, Any], resume: str | Path | None = None, progress: bool | None = None
) -> Path:
    """Train, then score ``best.pt`` on the test split; returns the run directory."""
    seed_everything(int(cfg["train"]["seed"]))
    out = run_dir(cfg)
    datasets = prepare(cfg)
    model = model_for(cfg, datasets)
    if dist_info().is_main:
        save_config(cfg, out / "config.yaml")
        sizes = ", ".join(f"{k} {len(v)}" for k, v in datasets.items())
        print(f"ENSO windows: {sizes}; grid {datasets['train'].grid} (lon, lat)")
    trainer = Trainer(model, datasets, cfg["train"], None, out, dict(cfg), progress, resume=resume)
    summary = trainer.fit()
    if dist_info().is_main:
        print(
            f"trained {summary['global_step']} steps; best validation loss "
            f"{summary['best_val_loss']:.6g} at epoch {summary['best_epoch']} "
            f"({summary['stop_reason']})"
        )
    best = build_model_from_checkpoint(load_checkpoint(out / "best.pt"))
    evaluate_enso(best, datasets, cfg, out, str(out / "best.pt"))
    return out


def test_enso(
    ckpt_path: str | Path,
    out: str | Path | None = None,
    progress: bool | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Score a checkpoint on its test split (only ``eval.*`` may be overridden)."""
    from geostl.runconfig import parse_override
    from geostl.runconfig.loader import merge

    ckpt = load_checkpoint(ckpt_path)
    cfg = dict(ckpt["config"])
    for text in overrides:
        layer = parse_override(text)
        if set(layer) != {"eval"}:
            raise ConfigError(f"geostl test: only eval.* keys may be overridden, got {text!r}")
        cfg = merge(cfg, layer)
    out = Path(out) if out is not None else Path(ckpt_path).parent
    datasets = prepare(cfg)
    stats = ckpt["data"]["stats"]
    ctx = datasets["test"].context
    if any(abs(getattr(ctx.stats, k) - v) > 1e-12 * max(1.0, abs(v)) for k, v in stats.items()):
        raise ValueError(
            f"{ckpt_path}: the data opened from the checkpoint's sources give other "
            f"normalisation statistics ({ctx.stats}) than the run's ({stats}); the files changed"
        )
    model = build_model_from_checkpoint(ckpt)
    out.mkdir(parents=True, exist_ok=True)
    return evaluate_enso(model, datasets, cfg, out, str(ckpt_path))


def _box(ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Niño 3.4 box columns/rows of the (lon, lat) frame and the rows' cos-lat weights."""
    lat = ctx.sst["lat"].values.astype(np.float64)
    lon = np.mod(ctx.sst["lon"].values.astype(np.float64), 360.0)
    rows = np.flatnonzero((lat >= NINO34_LAT[0]) & (lat <= NINO34_LAT[1]))
    cols = np.flatnonzero((lon >= NINO34_LON[0]) & (lon <= NINO34_LON[1]))
    return cols, rows, np.cos(np.deg2rad(lat[rows]))


def _box_mean(field: torch.Tensor, box) -> torch.Tensor:
    """(B, lon, lat) degC -> (B,) cos-lat weighted Niño 3.4 box mean (as nino34_box_mean)."""
    cols, rows, w = box
    sub = field[:, cols][:, :, rows]
    w = torch.as_tensor(w, dtype=field.dtype)
    return (sub * w[None, None]).sum((1, 2)) / (w.sum() * len(cols))


@torch.no_grad()
def evaluate_enso(
    model: torch.nn.Module,
    datasets: Mapping[str, EnsoDataset],
    cfg: Mapping[str, Any],
    out: Path,
    label: str,
) -> dict[str, Any]:
    """Score ``model`` and the baselines on the test split; write ``metrics.json``,
    ``metrics.md`` and (``eval.figures``) ``index_forecast.png`` / ``confusion.png`` (and
    ``phase_reliability.png`` for a model with the phase head).

    Under DDP every rank scores a disjoint shard and the sums are all-reduced; rank 0 writes.
    """
    test = datasets["test"]
    ctx, n_leads = test.context, test.n_leads
    model = model.cpu().eval()
    st = ctx.stats
    box = _box(ctx)
    sums = {m: IndexSums(n_leads) for m in METHODS}
    derived = {k: IndexSums(1) for k in ("sst_head", "observed_field")}
    # the phase head's probabilities, created at the first batch with ``phase_logits``
    prob_sums: PhaseProbabilitySums | None = None
    reference, reference_label = _phase_reference(ctx)
    clim_index = torch.as_tensor(ctx.clim_index)
    clim_phase = torch.as_tensor(ctx.clim_phase)
    box_clim = torch.as_tensor(ctx.box_clim)
    ocean = model.ocean.double()
    lat = torch.as_tensor(ctx.sst["lat"].values.astype(np.float64))
    w_cell = ocean * torch.cos(torch.deg2rad(lat))[None]  # (lon, lat)
    field = torch.zeros(2, 2, dtype=torch.float64)  # [model, persistence] x [Σw·e², Σw]
    sampler = ShardSampler(len(test), dist_info(), shuffle=False, pad=False)
    loader = DataLoader(test, int(cfg["eval"]["batch_size"]), sampler=sampler)
    per_window: dict[str, list[torch.Tensor]] = {"first": [], "model": [], "persistence": []}
    for batch in loader:
        pred = model(batch["x"])
        p_index = pred["index"].double() * st.index_std + st.index_mean
        p_phase = pred["phase_logits"].argmax(-1)
        obs, true_phase = batch["index_c"], batch["phase"]
        persist = batch["last_c"][:, None].expand(-1, n_leads)
        sums["model"].update(p_index, obs, p_phase, true_phase)
        if "phase_logits" in pred:
            if prob_sums is None:
                prob_sums = PhaseProbabilitySums(n_leads, reference, reference_label)
            prob_sums.update(torch.softmax(pred["phase_logits"].double(), -1), true_phase)
        sums["persistence"].update(persist, obs, threshold_phase(persist), true_phase)
        sums["climatology"].update(
            clim_index[batch["month"]], obs, clim_phase[batch["month"]], true_phase
        )
        # lead-1 SST field, degC (B, lon, lat)
        f_pred = pred["sst"][:, 0].double() * st.sst_std + st.sst_mean
        f_obs = batch["sst"][:, 0].double() * st.sst_std + st.sst_mean
        f_last = batch["x"][:, -1, 0].double() * st.sst_std + st.sst_mean
        for row, f in enumerate((f_pred, f_last)):
            field[row] += torch.stack([(w_cell * (f - f_obs) ** 2).sum(), w_cell.sum() * len(f)])
        m1 = batch["month"][:, 0]
        for key, f in (("sst_head", f_pred), ("observed_field", f_obs)):
            d = (_box_mean(f, box) - box_clim[m1])[:, None]
            derived[key].update(d, obs[:, :1], threshold_phase(d), true_phase[:, :1])
        per_window["first"].append(batch["first"])
        per_window["model"].append(p_index)
        per_window["persistence"].append(persist)
    field = all_reduce_sum(field)
    for s in (*sums.values(), *derived.values()):
        s.all_reduce()
    has_probs = prob_sums is not None
    if dist_info().distributed:  # a rank with an empty shard has seen no batch
        has_probs = bool(all_reduce_sum(torch.tensor([float(has_probs)])).item() > 0)
        if has_probs and prob_sums is None:
            prob_sums = PhaseProbabilitySums(n_leads, reference, reference_label)
    if prob_sums is not None:
        prob_sums.all_reduce()
    results: dict[str, Any] = {
        "task": "enso",
        "checkpoint": label,
        "n_test": len(test),
        "n_train": len(datasets["train"]),
        "n_val": len(datasets["val"]),
        "grid": {"lon": test.grid[0], "lat": test.grid[1]},
        "n_parameters": int(sum(p.numel() for p in model.net.parameters())),
        "methods": {m: s.scores() for m, s in sums.items()},
        "sst_head_nino34_lead1": _rmse_corr(derived["sst_head"]),
        "observed_field_nino34_lead1": _rmse_corr(derived["observed_field"]),
        "sst_field_rmse_lead1_degC": {
            "model": float(torch.sqrt(field[0, 0] / field[0, 1])),
            "persistence": float(torch.sqrt(field[1, 0] / field[1, 1])),
        },
        "notes": (
            "index in degC (the configured index anomaly); phase classes E/L/N from the "
            "centred 3-month ONI at +-0.5 degC; sums over the test windows, pooled over "
            "processes; SST field RMSE cos(latitude)-weighted over ocean cells"
        ),
    }
    if prob_sums is not None:
        results["methods"]["model"]["phase_probability"] = prob_sums.scores()
        results["notes"] += (
            "; phase probabilities (model only) = softmax of the phase head's logits: Brier = "
            "sum over the 3 phases of (p - o)^2 (0..2), RPS = sum of the 2 squared differences "
            "of cumulative probabilities over La Nina < neutral < El Nino (0..2, not divided "
            f"by K-1), RPSS = 1 - RPS/RPS_ref with the reference {reference_label}, log score "
            f"= mean -ln max(p_true, {LOG_FLOOR:g}) (nats); reliability: 10 equal bins of the "
            "forecast probability of each phase, pooled over leads"
        )
    if dist_info().is_main:
        _atomic_write(out / "metrics.json", json.dumps(results, indent=2) + "\n")
        md = markdown(results, n_leads)
        _atomic_write(out / "metrics.md", md)
        print(md)
        if cfg["eval"]["figures"] and not dist_info().distributed:
            _figures(out, ctx, per_window, results, n_leads)
    return results


def _phase_reference(ctx) -> tuple[np.ndarray | None, str]:
    """The RPSS reference: the phase frequencies of the train split's months (the context's
    ``phase`` codes where ``train_months``), else the uniform 1/3 forecast."""
    phase = getattr(ctx, "phase", None)
    months = getattr(ctx, "train_months", None)
    if phase is not None and months is not None and np.asarray(months).any():
        freq = phase_frequencies(np.asarray(phase)[np.asarray(months, dtype=bool)])
        text = ", ".join(f"{name} {f:.3f}" for name, f in zip(PHASES, freq, strict=True))
        return freq, f"train-split climatology (phase frequencies of the train months: {text})"
    return None, "uniform (1/3 each; the train split's phases are not at hand)"


def _rmse_corr(s: IndexSums) -> dict[str, float]:
    sc = s.scores()
    return {"rmse": sc["rmse_per_lead"][0], "corr": sc["corr_per_lead"][0]}


def _figures(out: Path, ctx, per_window, results, n_leads: int) -> None:
    firsts = torch.cat(per_window["first"]).numpy()
    months = ctx.times.astype("datetime64[ns]")
    forecasts = {}
    pred = torch.cat(per_window["model"]).numpy()
    persist = torch.cat(per_window["persistence"]).numpy()
    for lead in sorted({1, 3, n_leads} & set(range(1, n_leads + 1))):
        forecasts[f"model lead {lead}"] = (months[firsts + lead - 1], pred[:, lead - 1])
    forecasts[f"persistence lead {n_leads}"] = (months[firsts + n_leads - 1], persist[:, -1])
    shown = slice(max(int(firsts.min()) - 2, 0), None)
    plot_index_forecasts(
        out / "index_forecast.png",
        months[shown],
        ctx.index[shown],
        forecasts,
        f"Nino 3.4 forecasts on the test period ({len(firsts)} windows)",
    )
    plot_confusion(
        out / "confusion.png",
        {name: np.array(s["confusion"]) for name, s in results["methods"].items()},
    )
    probs = results["methods"]["model"].get("phase_probability")
    if probs is not None:
        plot_reliability(out / "phase_reliability.png", probs["reliability"])


def markdown(results: Mapping[str, Any], n_leads: int) -> str:
    """The ``metrics.md`` tables: per-lead RMSE, correlation and phase accuracy per method,
    then the summary skills, the phase head's probabilistic scores (a model with the phase
    head) and the SST head's derived index."""
    lines = [
        f"Test windows: {results['n_test']} (train {results['n_train']}, val "
        f"{results['n_val']}); index in degC; phase classes E/L/N from the ONI.",
        "",
        "| method | metric | " + " | ".join(f"lead {k}" for k in range(1, n_leads + 1)) + " |",
        "|---|---|" + "---|" * n_leads,
    ]
    for name, s in results["methods"].items():
        for key, label in (
            ("rmse_per_lead", "RMSE (degC)"),
            ("corr_per_lead", "corr"),
            ("phase_accuracy_per_lead", "phase acc."),
        ):
            lines.append(f"| {name} | {label} | " + " | ".join(f"{v:.3f}" for v in s[key]) + " |")
    lines += ["", "| method | C-Nino3.4-M | C-Nino3.4-WM | phase accuracy (all leads) |"]
    lines.append("|---|---|---|---|")
    for name, s in results["methods"].items():
        lines.append(
            f"| {name} | {s['c_nino34_m']:.3f} | {s['c_nino34_wm']:.3f} | "
            f"{s['phase_accuracy']:.3f} |"
        )
    d, o = results["sst_head_nino34_lead1"], results["observed_field_nino34_lead1"]
    f = results["sst_field_rmse_lead1_degC"]
    probs = results["methods"].get("model", {}).get("phase_probability")
    if probs is not None:
        lines += ["", *_probability_markdown(probs, n_leads)]
    lines += [
        "",
        f"Lead-1 Nino 3.4 from the SST head's field (box mean minus the train months' box-mean "
        f"climatology): RMSE {d['rmse']:.3f} degC, corr {d['corr']:.3f}; the same route on the "
        f"observed field: RMSE {o['rmse']:.3f} degC, corr {o['corr']:.3f}. Lead-1 SST field "
        f"RMSE over ocean (cos-lat weighted): model {f['model']:.3f} degC, persistence "
        f"{f['persistence']:.3f} degC.",
    ]
    return "\n".join(lines) + "\n"


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _probability_markdown(probs: Mapping[str, Any], n_leads: int) -> list[str]:
    """The phase head's probabilistic scores: a table per lead (and all leads pooled), then the
    reliability table per phase pooled over leads."""
    lines = [
        f"Phase probabilities of the model (softmax of the phase head). Brier and RPS range "
        f"0..2 (RPS over La Nina < neutral < El Nino); RPSS against the {probs['reference']}; "
        f"log score = mean -ln max(p_true, {probs['log_score_floor']:g}), nats.",
        "",
        "| metric | " + " | ".join(f"lead {k}" for k in range(1, n_leads + 1)) + " | all leads |",
        "|---|" + "---|" * (n_leads + 1),
    ]
    for key, label in (
        ("brier", "Brier"),
        ("rps", "RPS"),
        ("rps_reference", "RPS reference"),
        ("rpss", "RPSS"),
        ("log_score", "log score"),
        ("p_true", "mean p(true phase)"),
    ):
        row = [*probs[f"{key}_per_lead"], probs[key]]
        lines.append(f"| {label} | " + " | ".join(_fmt(v) for v in row) + " |")
    rel = probs["reliability"]
    edges, phases = rel["bin_edges"], rel["phases"]
    lines += [
        "",
        "Reliability (all leads pooled): per forecast-probability bin the forecasts n, their "
        "mean probability and the observed frequency of the phase.",
        "",
        "| bin | " + " | ".join(f"{name} n | mean p | obs. freq." for name in phases) + " |",
        "|---|" + "---|---|---|" * len(phases),
    ]
    for b in range(len(edges) - 1):
        cells = []
        for table in phases.values():
            cells += [
                str(table["n"][b]),
                _fmt(table["mean_probability"][b]),
                _fmt(table["observed_frequency"][b]),
            ]
        lines.append(f"| {edges[b]:.1f}-{edges[b + 1]:.1f} | " + " | ".join(cells) + " |")
    return lines


TASKS.register(
    Task(
        name="enso",
        spec=ENSO_SPEC,
        train=train_enso,
        test=test_enso,
        description="ENSO multi-task ConvLSTM: next-month SST, Nino 3.4 index and phase",
        build_model=build_enso_model,
        forecast=forecast_enso,
    )
)
