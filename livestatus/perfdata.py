"""Performance data of a check result, parsed from the Nagios plugin format.

``'label'=value[UOM];[warn];[crit];[min];[max]``, several separated by spaces; a label with
spaces is quoted with ``'`` and a quote inside it is doubled (the plugin guidelines). Values
may be ``U`` (the plugin could not tell); thresholds may be ranges (``10:20``, ``@10:20``,
``~:5``). Whatever cannot be read is skipped, not guessed: the raw text stays on the page.

Pure Python (no Django): the detail page shows the result as a table with bars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# value[UOM]: a number (with an exponent too, some plugins print one) then the unit, if any.
_VALUE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([^\d;]*)$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


@dataclass(frozen=True)
class PerfValue:
    """One measurement: its label, value (None for ``U``), unit and the four optional fields as written."""

    label: str
    value: float | None
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None

    @property
    def warn_at(self) -> float | None:
        """The level the warning range starts to alert at (its upper bound), if it has one."""
        return threshold_level(self.warn)

    @property
    def crit_at(self) -> float | None:
        """The level the critical range starts to alert at (its upper bound), if it has one."""
        return threshold_level(self.crit)

    def scale(self) -> float | None:
        """The full length of the value's bar: max, else 100 for percent, else the largest level known."""
        if self.max is not None and self.max > (self.min or 0):
            return self.max
        if self.uom == "%":
            return 100.0
        levels = [v for v in (self.value, self.warn_at, self.crit_at) if v is not None and v > 0]
        return max(levels) * 1.2 if levels else None

    def bar(self) -> dict[str, float] | None:
        """Where the value, warn and crit fall on the bar, in percent (None: nothing to draw)."""
        scale = self.scale()
        low = self.min or 0.0
        if scale is None or self.value is None or scale <= low:
            return None

        def at(level: float | None) -> float:
            return (
                -1.0 if level is None else round(max(0.0, min(100.0, 100 * (level - low) / (scale - low))), 1)
            )

        return {"value": at(self.value), "warn": at(self.warn_at), "crit": at(self.crit_at)}


def threshold_level(text: str) -> float | None:
    """The upper bound of a threshold range (``10``, ``5:10``, ``@5:10``, ``~:10``); None if it has none."""
    text = text.strip().lstrip("@")
    end = text.rpartition(":")[2] if ":" in text else text
    return float(end) if _NUMBER.match(end) else None


def _number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text.strip()) else None


def _tokens(text: str) -> list[str]:
    """``label=...`` items: split on spaces outside quoted labels ('' is a quote inside one)."""
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            if quoted and text[i + 1 : i + 2] == "'":
                current.append("''")
                i += 2
                continue
            quoted = not quoted
            current.append(char)
        elif char.isspace() and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
        i += 1
    if current:
        tokens.append("".join(current))
    return tokens


def parse(text: str) -> list[PerfValue]:
    """The measurements in a perfdata string, in order; unreadable items are skipped."""
    found = []
    for token in _tokens(text or ""):
        label, sep, rest = token.rpartition("=")
        if not sep or not label:
            continue
        if len(label) >= 2 and label[0] == "'" and label[-1] == "'":
            label = label[1:-1].replace("''", "'")
        fields = (rest.split(";") + [""] * 5)[:5]
        if fields[0].strip() == "U":
            value, uom = None, ""
        else:
            match = _VALUE.match(fields[0].strip())
            if match is None:
                continue
            value, uom = float(match.group(1)), match.group(2)
        found.append(
            PerfValue(
                label=label,
                value=value,
                uom=uom,
                warn=fields[1].strip(),
                crit=fields[2].strip(),
                min=_number(fields[3]),
                max=_number(fields[4]),
            )
        )
    return found
