"""The seed's Table 1 layout from the grid's cell results, as Markdown, CSV and JSON.

One row per finished cell, in grid order::

    backbone | fusion | C | policy | Param (M) | MACs (G) | throughput (seq/s) | MSE (U^2) |
    MAE <regime> (U) ... | RMSE (U) | gain

``gain = (RMSE_1ch - RMSE) / RMSE_1ch`` with RMSE_1ch the RMSE of the same backbone's
targets-only row (fusion ``none``, C = number of targets); n/a when that row is missing.
Rows of an ``oracle`` policy are marked ``oracle*`` and the notes say what that means. The
definitions of every column are written as notes under the table (and into the JSON).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geostl.benchmark import FLOPS_NOTE

from .regimes import Regime

__all__ = ["ORACLE_MARK", "gains", "table_notes", "table_rows", "write_tables"]

ORACLE_MARK = "*"


def gains(results: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """``{cell id: gain}``: (RMSE_1ch - RMSE) / RMSE_1ch against the same backbone's
    targets-only (fusion ``none``) cell; None where that cell or a score is missing."""
    reference = {r["backbone"]: r["scores"]["rmse"] for r in results if r["fusion"] == "none"}
    out: dict[str, float | None] = {}
    for r in results:
        ref, rmse = reference.get(r["backbone"]), r["scores"]["rmse"]
        ok = ref is not None and rmse is not None and ref > 0
        out[r["cell"]] = (ref - rmse) / ref if ok else None
    return out


def table_rows(
    results: Sequence[Mapping[str, Any]], regimes: Sequence[str]
) -> list[dict[str, Any]]:
    """Flat rows (numbers, not text) in the order of ``results``: the CSV/JSON content."""
    gain = gains(results)
    rows = []
    for r in results:
        s, c = r["scores"], r["complexity"]
        row: dict[str, Any] = {
            "backbone": r["backbone"],
            "backbone_name": r["backbone_name"],
            "fusion": r["fusion"],
            "C": r["channels"],
            "policy": r["policy"],
            "oracle": r["policy"] == "oracle",
            "future_observed_fed": bool(r["uses_future_observed"]),
            "params_M": c["params"] / 1e6,
            "macs_G": c["macs"] / 1e9,
            "throughput_seq_per_s": c["infer_seq_per_s"],
            "mse": s["mse"],
            "rmse": s["rmse"],
            "gain": gain[r["cell"]],
            "n_windows": s["n_windows"],
        }
        for name in regimes:
            reg = s["regimes"].get(name)
            if reg is None:
                raise KeyError(
                    f"cell {r['cell']}: no score for regime {name!r} (scored: "
                    f"{sorted(s['regimes'])}); rescore the cell"
                )
            row[f"mae_{name}"] = reg["mae"]
            row[f"n_{name}"] = reg["n_windows"]
        row["cell"] = r["cell"]
        rows.append(row)
    return rows


def _num(v: float | None, fmt: str = ".4g") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _markdown(rows: Sequence[Mapping[str, Any]], regimes: Sequence[str], units: str) -> str:
    u = f" ({units})" if units else ""
    u2 = f" ({units}²)" if units else ""
    header = ["backbone", "fusion", "C", "policy", "Param (M)", "MACs (G)", "throughput (seq/s)"]
    header += [f"MSE{u2}"] + [f"MAE {n}{u}" for n in regimes] + [f"RMSE{u}", "gain"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        policy = "—" if r["policy"] is None else r["policy"]
        if r["oracle"]:
            policy += ORACLE_MARK
        gain = (
            "—"
            if r["fusion"] == "none"
            else ("n/a" if r["gain"] is None else f"{100 * r['gain']:+.1f} %")
        )
        cells = [r["backbone"], r["fusion"], str(r["C"]), policy, _num(r["params_M"], ".3f")]
        cells += [_num(r["macs_G"], ".3g"), _num(r["throughput_seq_per_s"], ".3g")]
        cells += [_num(r["mse"])]
        for name in regimes:
            n = r[f"n_{name}"]
            cells.append(f"{_num(r[f'mae_{name}'], '.3f')} (n={n})")
        cells += [_num(r["rmse"], ".3f"), gain]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_notes(
    results: Sequence[Mapping[str, Any]],
    regimes: Sequence[Regime],
    forcing_names: Sequence[str],
    target_names: Sequence[str],
    test_split: str,
    directory: str,
) -> list[str]:
    """The definitions of every column and of the rows, as lines of text."""
    first = results[0] if results else None
    units = first["scores"]["units"] if first else ""
    n_t = len(target_names)
    chans = sorted({r["channels"] for r in results})
    sets = "; ".join(
        f"C={c}: {', '.join([*target_names, *forcing_names[: c - n_t]])}" for c in chans
    )
    notes = [
        f"Each row is one `geostl train` run (train -> best checkpoint by validation loss -> "
        f"test) in {directory}/<cell>/ with its config.yaml, best.pt, metrics.json and cell.json; "
        f"scores on the test split {test_split}.",
        f"C: channels fed to the model = the target(s) and the first C - {n_t} forcings of "
        f"data.schema.forcings in declared order ({sets or 'none run'}). Static planes of "
        "data.schema.static, if any, come on top for fusions that use them.",
        f"fusion none (C = {n_t}): the target(s) alone, run once per backbone; a future-forcing "
        "policy does not apply to it (policy —).",
        f"policy: the future-forcing policy over the forecast. known: forcings declared known "
        "(calendar, position) get their true future values, observed drivers are held at their "
        f"last input value. oracle{ORACLE_MARK}: the true future values of EVERY forcing, "
        "observed solar and geomagnetic drivers included, are fed to the model: information no "
        "real forecast has (the seed's Table 1 setting); its skill is not reachable in "
        "operation. none: future forcings are zeros.",
    ]
    same = sorted(
        {r["cell"] for r in results if r["policy"] == "oracle" and not r["uses_future_observed"]}
    )
    if same:
        notes.append(
            f"Oracle rows whose forcings are all known-future feed no observed future value and "
            f"are the same runs as their known rows: {', '.join(same)}."
        )
    notes += [
        "Param (M): parameters of the whole Forecaster (fusion + backbone), millions.",
        "MACs (G): multiply-accumulates of one forward pass of one test sample at the run's "
        f"shapes (T_in frames in, T_out out), 1e9. {FLOPS_NOTE}",
    ]
    if first:
        c = first["complexity"]
        notes.append(
            f"throughput: inference sequences/s on {c['device']} ({c['device_name']}, "
            f"{c['threads']} threads), batches of {c['batch_size']} real test windows, "
            f"{c['warmup']} warm-up then {c['batches']} timed batches in torch.inference_mode; "
            "measured while the machine did nothing else of the grid (other load counts)."
        )
    mse_note = (
        f"MSE ({units}²): plain per-pixel mean squared error in physical units over every test "
        "window, lead time and valid pixel (each meridian once, no latitude weight)."
    )
    if units == "TECU":
        mse_note += (
            " The channel-mixer seed's Table 1 'MSE' is OpenSTL's convention instead: the "
            "per-pixel MSE in normalised units (TEC / 200 TECU) summed over the 72 x 72 pixels "
            "(its values are about 26 x RMSE² in TECU²); compare RMSE, not MSE, with that table."
        )
    else:
        mse_note += (
            " OpenSTL's tables use the same per-pixel mean for WeatherBench; for its video sets "
            "it sums the per-pixel error over each frame's pixels instead."
        )
    weighting = first["scores"].get("weighting", "lat") if first else "lat"
    how = (
        "cos(latitude)-weighted"
        if weighting == "lat"
        else "unweighted (a pixel grid: no latitudes)"
    )
    notes += [
        mse_note,
        f"RMSE ({units}): {how}, the square root of the weighted MSE pooled over "
        "every test window, lead time and valid pixel (not a mean of per-window RMSEs), as "
        f"geostl's metrics.json 'rmse' ({weighting}) at lead 'all'.",
        f"MAE <regime> ({units}): {how} mean absolute error pooled over the test "
        "windows of that regime; n = its number of test windows; n/a (n=0): no test window "
        "falls in the regime (the column is kept, not dropped).",
    ]
    regime_units = first.get("regime_units", {}) if first else {}
    for reg in regimes:
        notes.append(f"regime {reg.name}: {reg.condition(regime_units.get(reg.name, ''))}.")
    notes.append(
        "gain = (RMSE_1ch - RMSE) / RMSE_1ch, RMSE_1ch of the same backbone's C = "
        f"{n_t} row (fusion none, policy-independent); positive = better than the target alone."
    )
    missing = sorted(
        {r["backbone"] for r in results} - {r["backbone"] for r in results if r["fusion"] == "none"}
    )
    if missing:
        notes.append(
            f"gain n/a for {', '.join(missing)}: no finished C = {n_t} run of that backbone in "
            f"this grid (put {n_t} in grid.channels, or see the failed cells)."
        )
    return notes


def write_tables(
    directory: str | os.PathLike,
    results: Sequence[Mapping[str, Any]],
    regimes: Sequence[Regime],
    notes: Sequence[str],
    failures: Mapping[str, str],
    title: str,
) -> dict[str, Path]:
    """Write ``table.md``, ``table.csv`` and ``table.json`` in ``directory`` (atomically).

    Returns ``{"md": path, "csv": path, "json": path}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = [r.name for r in regimes]
    rows = table_rows(results, names)
    units = results[0]["scores"]["units"] if results else ""
    parts = [f"# {title}\n", _markdown(rows, names, units) + "\n"]
    parts.append("\n".join(f"- {n}" for n in notes) + "\n")
    if failures:
        parts.append("## Failed cells\n")
        parts.append("\n".join(f"- {cell}: {why}" for cell, why in failures.items()) + "\n")
    paths = {k: directory / f"table.{k}" for k in ("md", "csv", "json")}
    _atomic(paths["md"], "\n".join(parts))
    buf = io.StringIO()
    columns = list(rows[0]) if rows else ["cell"]
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    _atomic(paths["csv"], buf.getvalue())
    doc = {
        "title": title,
        "units": units,
        "rows": rows,
        "notes": list(notes),
        "failures": dict(failures),
    }
    _atomic(paths["json"], json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return paths


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
