"""Naemon object config as Naemon reads it: definitions, their origin, and template inheritance.

Split from registry/importer.py (which re-exports these names and turns definitions into
registry objects); no database, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# --- parsing --------------------------------------------------------------------------

_DEFINE = re.compile(r"^define\s+([a-z]+)\s*\{\s*$")
_COMMENT = re.compile(r"(?<!\\);.*")


@dataclass
class Definition:
    """One ``define kind { ... }`` block: its directives (a repeated directive: the last wins) and origin."""

    kind: str
    directives: dict[str, str]
    origin: str
    #: directive -> ``file:line`` where it is set: the import report names what it drops there.
    where: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        return self.directives.get(key, default)

    @property
    def is_template(self) -> bool:
        return "name" in self.directives

    @property
    def registered(self) -> bool:
        return self.directives.get("register", "1").strip() != "0"


def parse_text(text: str, origin: str = "<text>") -> tuple[list[Definition], list[str]]:
    """Definitions in one file's text, read as Naemon reads it; and problems (with file:line)."""
    definitions: list[Definition] = []
    problems: list[str] = []
    current: Definition | None = None
    pending = ""
    start_line = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.rstrip("\r")
        if raw.endswith("\\"):  # Naemon joins a line ending in a backslash with the next
            if not pending:
                start_line = number
            pending += raw[:-1]
            continue
        line, pending = pending + raw, ""
        where = f"{origin}:{start_line or number}"
        start_line = 0
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        line = _COMMENT.sub("", line).replace("\\;", ";").strip()
        if not line:
            continue
        match = _DEFINE.match(line)
        if match:
            if current is not None:
                problems.append(f"{where}: 'define' inside a definition (missing '}}'?)")
            current = Definition(match.group(1), {}, where)
            definitions.append(current)
        elif line == "}":
            if current is None:
                problems.append(f"{where}: '}}' outside a definition")
            current = None
        elif current is None:
            if line.startswith(("include_file", "include_dir")):
                problems.append(f"{where}: {line.split('=')[0]} is not followed; import that path itself")
            else:
                problems.append(f"{where}: text outside a definition: {line[:60]!r}")
        else:
            key, _, value = line.replace("\t", " ").partition(" ")
            current.directives[key] = value.strip()
            current.where[key] = where
    if current is not None:
        problems.append(f"{current.origin}: definition never closed")
        definitions.remove(current)
    return definitions, problems


def config_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to read: files as given, directories as every ``*.cfg`` below them, sorted."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.rglob("*.cfg") if p.is_file()) if path.is_dir() else [path])
    return files


# --- resolving templates ----------------------------------------------------------------


def split_list(value: str) -> list[str]:
    """A comma-separated list directive (``a, b``)."""
    return [item.strip() for item in value.split(",") if item.strip()]


# List directives where a leading '+' means "add to the inherited list" (elsewhere it is literal).
ADDITIVE = frozenset(
    {
        "hostgroups", "contact_groups", "contacts", "parents", "servicegroups", "host_name", "hostgroup_name",
        "contactgroups", "members", "host_notification_commands", "service_notification_commands",
    }
)  # fmt: skip


class Resolver:
    """Naemon's template inheritance for one object kind: own value first, then each ``use`` in order."""

    def __init__(self, definitions: list[Definition]) -> None:
        self.templates = {d.get("name"): d for d in definitions if d.is_template}

    def chain(self, definition: Definition) -> list[Definition]:
        """The definition and every template it inherits from, depth-first, each once."""
        seen: list[Definition] = []

        def walk(d: Definition) -> None:
            if any(d is s for s in seen):
                return
            seen.append(d)
            for name in split_list(d.get("use")):
                if name in self.templates:
                    walk(self.templates[name])

        walk(definition)
        return seen

    def missing(self, definition: Definition) -> list[str]:
        """Templates used somewhere in the chain that are not defined."""
        return [
            n for d in self.chain(definition) for n in split_list(d.get("use")) if n not in self.templates
        ]

    def value(self, definition: Definition, key: str) -> str | None:
        """The inherited value of a directive (``+`` adds to what is inherited, ``null`` clears)."""
        parts: list[str] = []
        for d in self.chain(definition):
            if key not in d.directives:
                continue
            value = d.directives[key]
            if value == "null":
                break
            if value.startswith("+") and key in ADDITIVE:
                parts.append(value[1:])
                continue
            parts.append(value)
            break
        if not parts:
            return None
        return ",".join(reversed(parts))

    def resolved(self, definition: Definition) -> dict[str, str]:
        """Every directive the definition ends up with (for kinds the registry has no templates of)."""
        keys = {k for d in self.chain(definition) for k in d.directives}
        result = {}
        for key in keys - {"name", "use", "register"}:
            value = self.value(definition, key)
            if value is not None:
                result[key] = value
        return result
