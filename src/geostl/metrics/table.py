"""Metric tables: long-format rows, pivots and side-by-side comparison of forecasts.

A :class:`MetricTable` holds rows ``(metric, channel, lead, value, weighting)`` plus a note per
metric saying how its mean was taken, and the physical unit of each channel. It writes
Markdown, CSV and JSON; :meth:`MetricTable.pivot` and :func:`compare_tables` give
:class:`WideTable` views (leads as rows).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MetricTable", "WideTable", "compare_tables"]

Lead = str | int | float
COLUMNS = ("metric", "channel", "lead", "weighting", "value")
#: order of preference when a caller does not name a weighting
WEIGHTING_PREFERENCE = ("lat", "plain", "frame", "count")


def preferred_weighting(available: Iterable[str]) -> str:
    """The first of :data:`WEIGHTING_PREFERENCE` in ``available`` (else its first entry):
    ``lat`` on a geographic grid, ``plain`` on a pixel grid (no cos-latitude rows)."""
    have = list(available)
    if not have:
        raise ValueError("preferred_weighting: no weighting available")
    for w in WEIGHTING_PREFERENCE:
        if w in have:
            return w
    return have[0]


def _fmt(v: float) -> str:
    return "nan" if isinstance(v, float) and math.isnan(v) else f"{v:.6g}"


def _json_value(v: float) -> float | str | None:
    """Strict JSON: NaN as null, +-inf (an exact PSNR) as the strings "inf" / "-inf"."""
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _json_float(v: float | str | None) -> float:
    return math.nan if v is None else float(v)


def _markdown(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _atomic_write(path: str | os.PathLike, text: str) -> None:
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


class _JsonIO:
    """``to_json`` / ``from_json`` for a class with ``to_dict`` / ``from_dict``."""

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text (strict: NaN written as null); written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            _atomic_write(path, text)
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike):
        """Read a table written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


@dataclass
class WideTable(_JsonIO):
    """A 2-D table: one row per ``index`` label, one column per ``columns`` name.

    Attributes:
        index_name: name of the row labels (e.g. ``"lead"``).
        index: row labels (lead times as given).
        columns: column names.
        values: ``values[i][j]`` for row i, column j (NaN where absent).
        title: one-line caption.
        notes: free-text lines on how the values were obtained.
    """

    index_name: str
    index: list[Lead]
    columns: list[str]
    values: list[list[float]]
    title: str = ""
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> list[float]:
        """Values of one column, in row order."""
        if name not in self.columns:
            raise KeyError(f"column {name!r} not in {self.columns}")
        j = self.columns.index(name)
        return [row[j] for row in self.values]

    def to_markdown(self) -> str:
        """Markdown table with the title above and the notes below."""
        pairs = zip(self.index, self.values, strict=True)
        body = [[str(lab)] + [_fmt(v) for v in row] for lab, row in pairs]
        parts = [f"**{self.title}**\n"] if self.title else []
        parts.append(_markdown([self.index_name, *self.columns], body))
        if self.notes:
            parts.append("\n" + "\n".join(f"- {n}" for n in self.notes))
        return "\n".join(parts) + "\n"

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """CSV text (header row then one row per index label); written to ``path`` if given."""
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow([self.index_name, *self.columns])
        for lab, row in zip(self.index, self.values, strict=True):
            wr.writerow([lab, *(repr(float(v)) for v in row)])
        if path is not None:
            _atomic_write(path, buf.getvalue())
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN written as null)."""
        return {
            "index_name": self.index_name,
            "index": list(self.index),
            "columns": list(self.columns),
            "values": [[_json_value(v) for v in row] for row in self.values],
            "title": self.title,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WideTable:
        """Inverse of :meth:`to_dict`."""
        return cls(
            index_name=d["index_name"],
            index=list(d["index"]),
            columns=list(d["columns"]),
            values=[[_json_float(v) for v in row] for row in d["values"]],
            title=d.get("title", ""),
            notes=list(d.get("notes", [])),
        )


class MetricTable(_JsonIO):
    """Long-format metric results.

    Args:
        rows: dicts with keys ``metric`` (str), ``channel`` (str), ``lead`` (label as given,
            or ``"all"``), ``weighting`` (``"plain"``: validity x area mask; ``"lat"``: also
            x cos(lat); ``"frame"``: average of per-frame values; ``"count"``: a count) and
            ``value`` (float, NaN where undefined).
        notes: ``{metric: how its mean was taken}``.
        units: ``{channel: physical unit}``.
        metric_units: ``{metric: unit template}`` where ``{u}`` stands for the channel's unit,
            e.g. ``{"mse": "{u}^2", "rmse": "{u}", "acc": "1", "psnr": "dB"}``. Metrics
            without a template get no unit in the outputs.
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        notes: Mapping[str, str] | None = None,
        units: Mapping[str, str] | None = None,
        metric_units: Mapping[str, str] | None = None,
    ) -> None:
        self.rows: list[dict[str, Any]] = []
        seen: set[tuple] = set()
        for i, r in enumerate(rows):
            missing = [k for k in COLUMNS if k not in r]
            if missing:
                raise ValueError(f"rows[{i}]: missing keys {missing}; expected {list(COLUMNS)}")
            row = {k: r[k] for k in COLUMNS}
            row["value"] = float(row["value"])
            key = (row["metric"], row["channel"], row["lead"], row["weighting"])
            if key in seen:
                raise ValueError(f"rows[{i}]: duplicate row for {key}")
            seen.add(key)
            self.rows.append(row)
        self.notes = dict(notes or {})
        self.units = dict(units or {})
        self.metric_units = dict(metric_units or {})

    def unit(self, metric: str, channel: str) -> str:
        """Unit of ``metric`` for ``channel`` ("" when unknown)."""
        template = self.metric_units.get(metric)
        if template is None:
            return ""
        if "{u}" in template:
            u = self.units.get(channel)
            return template.replace("{u}", u) if u else ""
        return template

    # -- queries ------------------------------------------------------------------------------
    @staticmethod
    def _unique(values: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for v in values:
            if v not in out:
                out.append(v)
        return out

    def metrics(self) -> list[str]:
        """Metric names in order of first appearance."""
        return self._unique(r["metric"] for r in self.rows)

    def channels(self) -> list[str]:
        """Channel names in order of first appearance."""
        return self._unique(r["channel"] for r in self.rows)

    def leads(self) -> list[Lead]:
        """Lead labels in order of first appearance (``"all"`` last when present)."""
        return self._unique(r["lead"] for r in self.rows)

    def weightings(self, metric: str | None = None) -> list[str]:
        """Weightings present (for ``metric`` when given)."""
        return self._unique(
            r["weighting"] for r in self.rows if metric is None or r["metric"] == metric
        )

    def _default_weighting(self, metric: str) -> str:
        have = self.weightings(metric)
        if not have:
            raise KeyError(f"metric {metric!r} not in table; have {self.metrics()}")
        return preferred_weighting(have)

    def select(
        self,
        metric: str | None = None,
        channel: str | None = None,
        lead: Lead | None = None,
        weighting: str | None = None,
    ) -> MetricTable:
        """Rows matching every given field, as a new table."""
        rows = [
            r
            for r in self.rows
            if (metric is None or r["metric"] == metric)
            and (channel is None or r["channel"] == channel)
            and (lead is None or r["lead"] == lead)
            and (weighting is None or r["weighting"] == weighting)
        ]
        return MetricTable(rows, self.notes, self.units, self.metric_units)

    def value(self, metric: str, channel: str, lead: Lead, weighting: str | None = None) -> float:
        """One value; ``weighting`` defaults to ``"lat"`` if present, else ``"plain"``."""
        if metric not in self.metrics():
            raise KeyError(f"metric {metric!r} not in table; have {self.metrics()}")
        if channel not in self.channels():
            raise KeyError(f"channel {channel!r} not in table; have {self.channels()}")
        w = weighting or self._default_weighting(metric)
        for r in self.rows:
            if (r["metric"], r["channel"], r["lead"], r["weighting"]) == (metric, channel, lead, w):
                return r["value"]
        raise KeyError(
            f"no row for metric={metric!r} channel={channel!r} lead={lead!r} weighting={w!r}"
        )

    # -- output -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``{"rows": [...], "notes": {...}, "units": {...}}`` (NaN -> null)."""
        rows = [{**r, "value": _json_value(r["value"])} for r in self.rows]
        return {
            "rows": rows,
            "notes": dict(self.notes),
            "units": dict(self.units),
            "metric_units": dict(self.metric_units),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MetricTable:
        """Inverse of :meth:`to_dict`."""
        rows = [{**r, "value": _json_float(r["value"])} for r in d["rows"]]
        return cls(rows, d.get("notes"), d.get("units"), d.get("metric_units"))

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """CSV text with columns metric, channel, lead, weighting, value, unit."""
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow([*COLUMNS, "unit"])
        for r in self.rows:
            unit = self.unit(r["metric"], r["channel"])
            wr.writerow([*(r[k] for k in COLUMNS[:-1]), repr(r["value"]), unit])
        if path is not None:
            _atomic_write(path, buf.getvalue())
        return buf.getvalue()

    def _notes_lines(self, metrics: Iterable[str]) -> list[str]:
        return [f"{m}: {self.notes[m]}" for m in metrics if m in self.notes]

    def to_markdown(self) -> str:
        """Long-format Markdown table followed by the notes on each metric."""
        body = [
            [
                r["metric"],
                r["channel"],
                str(r["lead"]),
                r["weighting"],
                _fmt(r["value"]),
                self.unit(r["metric"], r["channel"]),
            ]
            for r in self.rows
        ]
        text = _markdown([*COLUMNS, "unit"], body)
        notes = self._notes_lines(self.metrics())
        if notes:
            text += "\n\n" + "\n".join(f"- {n}" for n in notes)
        return text + "\n"

    def pivot(
        self,
        channel: str,
        weighting: str | None = None,
        metrics: Sequence[str] | None = None,
    ) -> WideTable:
        """Leads as rows, metrics as columns, for one channel.

        Args:
            channel: channel name.
            weighting: one weighting for every column; default: per metric ``"lat"`` if
                present, else ``"plain"``, else what the metric has (``"frame"``/``"count"``).
            metrics: columns to include (default: every metric of the channel).
        """
        sub = self.select(channel=channel)
        if not sub.rows:
            raise KeyError(f"channel {channel!r} not in table; have {self.channels()}")
        metrics = list(metrics) if metrics is not None else sub.metrics()
        chosen = {m: weighting or sub._default_weighting(m) for m in metrics}
        leads = sub.leads()
        lookup = {(r["metric"], r["lead"], r["weighting"]): r["value"] for r in sub.rows}
        for m in metrics:
            if not any((m, lead, chosen[m]) in lookup for lead in leads):
                raise KeyError(
                    f"metric {m!r} with weighting {chosen[m]!r} not in table for channel "
                    f"{channel!r}; have {sub.metrics()}"
                )
        values = [[lookup.get((m, lead, chosen[m]), math.nan) for m in metrics] for lead in leads]
        notes = [f"weighting: {', '.join(f'{m}={w}' for m, w in chosen.items())}"]
        units = [f"{m}={self.unit(m, channel)}" for m in metrics if self.unit(m, channel)]
        if units:
            notes.append(f"units: {', '.join(units)}")
        notes += self._notes_lines(metrics)
        return WideTable("lead", leads, metrics, values, channel, notes)


def compare_tables(
    tables: Mapping[str, MetricTable],
    metric: str,
    channel: str,
    weighting: str | None = None,
) -> WideTable:
    """Several forecasts side by side: leads as rows, one column per forecast.

    Args:
        tables: ``{forecast name: MetricTable}``, e.g. ``{"model": t1, "persistence": t2}``.
        metric: metric name, e.g. ``"rmse"``.
        channel: channel name.
        weighting: default ``"lat"`` if the first table has it for ``metric``, else ``"plain"``.

    Returns:
        A :class:`WideTable`; leads are those of the first table, then any others.
    """
    if not tables:
        raise ValueError("tables: expected at least one {name: MetricTable}")
    first = next(iter(tables.values()))
    w = weighting or first._default_weighting(metric)
    leads: list[Lead] = []
    cols: dict[str, dict[Lead, float]] = {}
    for name, t in tables.items():
        sub = t.select(metric=metric, channel=channel, weighting=w)
        if not sub.rows:
            raise KeyError(
                f"tables[{name!r}]: no rows for metric={metric!r}, channel={channel!r}, "
                f"weighting={w!r}; it has metrics {t.metrics()} and channels {t.channels()}"
            )
        cols[name] = {r["lead"]: r["value"] for r in sub.rows}
        leads += [lead for lead in sub.leads() if lead not in leads]
    values = [[cols[n].get(lead, math.nan) for n in tables] for lead in leads]
    unit = first.unit(metric, channel)
    title = f"{metric} ({w}) for {channel}" + (f" [{unit}]" if unit else "")
    notes = [f"{metric}: {first.notes[metric]}"] if metric in first.notes else []
    return WideTable("lead", leads, list(tables), values, title, notes)
