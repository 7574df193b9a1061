"""ARCHITECTURE.md stays true: every path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATH = re.compile(r"`([A-Za-z_][\w.-]*(?:/[\w.-]*)*(?:/|\.py|\.md|\.yaml))`")


def named_paths(text: str) -> list[str]:
    """The repository paths in backticks: ``a/b.py``, ``a/b/``, ``prefect.yaml``."""
    return sorted(set(PATH.findall(text)))


def test_the_architecture_note_names_paths() -> None:
    paths = named_paths((ROOT / "ARCHITECTURE.md").read_text())

    assert len(paths) >= 30
    assert "components/engine/factory.py" in paths and "flows/" in paths


def test_every_path_the_architecture_note_names_exists() -> None:
    missing = [
        p for p in named_paths((ROOT / "ARCHITECTURE.md").read_text()) if not (ROOT / p).exists()
    ]

    assert missing == []
