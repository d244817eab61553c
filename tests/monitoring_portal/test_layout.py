"""The layout's size rule: no Python module over 800 lines outside migrations (tests included).

A module past that size does several jobs; split it by topic (STYLE.md). Data belongs in a data
file beside its loader (as tests/services/naemon_columns.tsv).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 800
#: Not the project's code: the virtualenv, run data, tool caches, build output (and migrations).
SKIPPED_DIRS = {".git", ".venv", "var", "build", "dist", "migrations", "node_modules", "__pycache__"}


def python_modules() -> list[Path]:
    """Every Python file of the repository, migrations aside (no git needed: images have no .git)."""
    found = []
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        found += [Path(directory, name) for name in files if name.endswith(".py")]
    return found


def test_no_module_is_over_800_lines() -> None:
    modules = python_modules()
    assert len(modules) > 100  # the listing found the tree
    offenders = {
        str(path.relative_to(ROOT)): count
        for path in modules
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert offenders == {}, f"modules over {MAX_LINES} lines (split them by topic): {offenders}"
