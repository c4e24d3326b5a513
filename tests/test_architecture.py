"""docs/architecture.md matches the tree, and the task registry lists every task package."""

from __future__ import annotations

import re
from pathlib import Path

from geostl.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "geostl"


def _documented_folders() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = text.split("```", 2)[1]
    return {m.group(1).rstrip("/") for m in re.finditer(r"^  ([a-z_/]+/)\s", tree, re.M)}


def test_every_documented_folder_exists_and_every_folder_is_documented() -> None:
    documented = _documented_folders()
    assert documented, "no folder lines found in docs/architecture.md"
    for folder in documented:
        assert (PACKAGE / folder).is_dir(), f"docs/architecture.md names missing {folder}/"
    actual = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*")
        if p.is_dir() and not p.is_symlink() and "__pycache__" not in p.parts
        and "_data" not in p.parts and (p / "__init__.py").is_file()
    }  # fmt: skip
    assert actual - documented == set(), "folders missing from docs/architecture.md"


def test_every_task_package_registers_its_task() -> None:
    packages = {p.parent.name for p in (PACKAGE / "tasks").glob("*/task.py") if p.parent.is_dir()}
    assert packages == {"enso", "gapfill"}
    assert TASKS.available() == sorted(packages)
