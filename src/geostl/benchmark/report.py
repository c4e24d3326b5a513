"""Benchmark results as a Markdown table and as JSON (round trip)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "COLUMNS",
    "bench_from_json",
    "bench_to_json",
    "bench_to_markdown",
    "markdown_header",
    "markdown_notes",
    "markdown_row",
    "table_columns",
]

#: (header, key, scale, format) of the Markdown table
COLUMNS: tuple[tuple[str, str, float, str], ...] = (
    ("model", "model", 1, "s"),
    ("input", "input", 1, "s"),
    ("batch", "batch_size", 1, "d"),
    ("device", "device", 1, "s"),
    ("params (M)", "params", 1e-6, ".3f"),
    ("GFLOPs", "flops", 1e-9, ".3f"),
    ("GMACs", "macs", 1e-9, ".3f"),
    ("infer seq/s", "infer_seq_per_s", 1, ".2f"),
    ("train seq/s", "train_seq_per_s", 1, ".2f"),
    ("infer peak mem (MiB)", "infer_peak_mem_bytes", 2**-20, ".1f"),
    ("train peak mem (MiB)", "train_peak_mem_bytes", 2**-20, ".1f"),
    ("infer GFLOP/s", "infer_achieved_flops_per_s", 1e-9, ".2f"),
    ("train GFLOP/s", "train_achieved_flops_per_s", 1e-9, ".2f"),
    ("matmul GFLOP/s", "matmul_flops_per_s", 1e-9, ".1f"),
    ("infer / matmul", "infer_fraction_of_matmul", 100, ".1f%"),
    ("train / matmul", "train_fraction_of_matmul", 100, ".1f%"),
)


def _cell(value: Any, scale: float, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "s":
        return str(value)
    if fmt == "d":
        return f"{int(value)}"
    if fmt.endswith("%"):
        return f"{value * scale:{fmt[:-1]}}%"
    return f"{value * scale:{fmt}}"


def table_columns(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, float, str]]:
    """The :data:`COLUMNS` that at least one of ``results`` has."""
    return [c for c in COLUMNS if any(c[1] in r for r in results)]


def markdown_header(cols: Sequence[tuple[str, str, float, str]]) -> str:
    """The two header lines of the Markdown table with columns ``cols``."""
    return "| " + " | ".join(c[0] for c in cols) + " |\n|" + "|".join("---" for _ in cols) + "|"


def markdown_row(result: dict[str, Any], cols: Sequence[tuple[str, str, float, str]]) -> str:
    """One result as a row of the table with columns ``cols`` (``-`` where it has no value)."""
    return "| " + " | ".join(_cell(result.get(k), s, f) for _, k, s, f in cols) + " |"


def markdown_notes(first: dict[str, Any]) -> str:
    """The notes below the table: the first result's notes and the machine setting."""
    setting = (
        f"torch {first.get('torch')}, {first.get('threads')} CPU threads, "
        f"device {first.get('device_name') or first.get('device')}"
    )
    if "matmul_n" in first:
        setting += f"; matmul {first['matmul_n']}x{first['matmul_n']} {first.get('matmul_dtype')}"
    return "\n".join(f"- {n}" for n in [*first.get("notes", []), setting]) + "\n"


def bench_to_markdown(results: Sequence[dict[str, Any]]) -> str:
    """One row per result of ``benchmark_model``; the notes of the first below the table."""
    if not results:
        raise ValueError("results: expected at least one benchmark result")
    cols = table_columns(results)
    rows = [markdown_row(r, cols) for r in results]
    return "\n".join([markdown_header(cols), *rows]) + "\n\n" + markdown_notes(results[0])


def bench_to_json(results: Sequence[dict[str, Any]], path: str | os.PathLike | None = None) -> str:
    """JSON text ``{"results": [...]}`` (strict, no NaN); written atomically to ``path``."""
    text = json.dumps({"results": list(results)}, indent=1, allow_nan=False) + "\n"
    if path is not None:
        out = Path(path)
        tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    return text


def bench_from_json(path_or_text: str | os.PathLike) -> list[dict[str, Any]]:
    """Results written by :func:`bench_to_json` (a file path or the JSON text)."""
    text = str(path_or_text)
    if not text.lstrip().startswith("{"):
        text = Path(path_or_text).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError("benchmark JSON: expected an object with a 'results' list")
    return data["results"]
