"""What commands print: JSON for programs, aligned text that fits the terminal for people.

Results are value objects (Artifact, Alias), lists of them, plain strings, or a
:class:`Done` (an action's outcome: a remark for people, a JSON object for programs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeAlias

from ..model import Alias, AliasChange, AliasState, Artifact, ExpiredVersion

#: the fields of the JSON objects, in this order
ARTIFACT_FIELDS = (
    "name",
    "version",
    "sha256",
    "size",
    "content_type",
    "metadata",
    "update_at",
    "uri",
    "deleted",
)
ALIAS_FIELDS = (
    "name",
    "alias",
    "version",
    "secondary_version",
    "secondary_version_weight",
    "revision",
    "update_at",
)
#: the fields of a history entry's JSON object (before/after are alias states or null)
CHANGE_FIELDS = (
    "name",
    "alias",
    "revision",
    "update_at",
    "action",
    "who",
    "reason",
    "before",
    "after",
    "previous_sha256",
    "sha256",
)
#: table columns, for people (the name is the command's NAME); the last one gives way
#: first when the terminal is narrow
ARTIFACT_COLUMNS = ("version", "update_at", "size", "sha256", "uri")
ALIAS_COLUMNS = ALIAS_FIELDS[1:]  # the command's NAME is the artifact
_HEADERS = {
    "update_at": "UPDATED",
    "secondary_version": "SECONDARY",
    "secondary_version_weight": "WEIGHT",
    "revision": "REV",
}
#: a table is for people: a hash prefix tells versions apart (--json has it all)
_SHA_PREFIX = 12


@dataclass
class Done:
    """The outcome of an action: ``message`` for people (stderr), ``data`` for --json."""

    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Shown:
    """One version in full, with the aliases that point at it (``versioned show``)."""

    artifact: Artifact
    aliases: list[str]


@dataclass
class History:
    """A page of an alias's history, newest first (``versioned alias history``)."""

    changes: list[AliasChange]


Result: TypeAlias = (
    "Artifact | Alias | Shown | Done | History | Sequence[Artifact] | Sequence[Alias] | "
    "Sequence[str] | str | None"
)


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON on standard output."""
    print(json.dumps(data, indent=2))


def emit(result: Result, *, as_json: bool, quiet: bool, show_deleted: bool = False) -> None:
    """Print a command's result: JSON on stdout with ``as_json``, else text for people."""
    if result is None:
        return
    if isinstance(result, Done):
        if as_json:
            print_json(result.data)
        elif not quiet and result.message:
            print(f"versioned: {result.message}", file=sys.stderr)
        return
    if as_json:
        print_json(to_json(result))
        return
    text = _text(result, show_deleted)
    if text:
        print(text)


def to_json(result: object) -> object:
    """The JSON form: an object per artifact or alias, an array for a list."""
    if isinstance(result, Shown):
        return {**record(result.artifact), "aliases": result.aliases}
    if isinstance(result, History):
        return [change_record(change) for change in result.changes]
    if isinstance(result, (Artifact, Alias)):
        return record(result)
    if isinstance(result, (list, tuple)):
        return [to_json(item) for item in result]
    return result


def record(item: Artifact | Alias) -> dict[str, object]:
    """The public fields of ``item``; ``update_at`` as an ISO 8601 string."""
    if isinstance(item, Alias):
        values = {name: getattr(item, name) for name in ALIAS_FIELDS}
    else:
        values = {name: getattr(item, name) for name in ARTIFACT_FIELDS if name != "deleted"}
        values["deleted"] = item.is_deleted
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def change_record(change: AliasChange) -> dict[str, object]:
    """A history entry's public fields; states as objects, the time as ISO 8601."""
    values: dict[str, object] = {}
    for name in CHANGE_FIELDS:
        value = getattr(change, name)
        if isinstance(value, AliasState):
            value = {
                "version": value.version,
                "secondary_version": value.secondary_version,
                "secondary_version_weight": value.secondary_version_weight,
            }
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _text(result: Result, show_deleted: bool) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, History):
        from .history_view import history_text

        return history_text(result.changes, output_width())
    if isinstance(result, Shown):
        pairs = _pairs(result.artifact)
        pairs.append(("aliases", ", ".join(result.aliases) or "-"))
        return align([[key, value] for key, value in pairs])
    if isinstance(result, (Artifact, Alias)):
        return align([[key, value] for key, value in _pairs(result)])
    assert result is not None and not isinstance(result, Done)
    if all(isinstance(item, str) for item in result):
        return "\n".join(str(item) for item in result)
    items = [item for item in result if isinstance(item, (Artifact, Alias))]
    if not items:
        return ""
    columns: tuple[str, ...] = ALIAS_COLUMNS if isinstance(items[0], Alias) else ARTIFACT_COLUMNS
    if show_deleted:
        columns = (*columns[:1], "deleted", *columns[1:])
    header = [_HEADERS.get(c, c.upper()) for c in columns]
    rows = [[_cell(item, column) for column in columns] for item in items]
    return align([header, *rows], width=output_width())


def _pairs(item: Artifact | Alias) -> list[tuple[str, str]]:
    """``item``'s fields as (name, text) for a key-value listing."""
    if isinstance(item, Alias):
        return [(name, show_value(getattr(item, name))) for name in ALIAS_FIELDS]
    pairs = [(name, show_value(getattr(item, name))) for name in ARTIFACT_FIELDS[:-1]]
    pairs[3] = ("size", human_size(item.size))
    if item.is_deleted:
        pairs.append(("deleted", "yes (restore brings it back)"))
    return pairs


def _cell(item: Artifact | Alias, column: str) -> str:
    if column == "deleted":
        return "yes" if getattr(item, "is_deleted", False) else "-"
    value = getattr(item, column)
    if column == "sha256":
        return str(value)[:_SHA_PREFIX]
    if column == "size":
        return human_size(value)
    return show_value(value)


def show_value(value: object) -> str:
    """A value for people: ``-`` for none, times to the second in UTC."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    return str(value)


def expiry_table(expired: Sequence[ExpiredVersion]) -> str:
    """The versions ``gc --expire-deleted`` expired (or would): one row each."""
    header = ["NAME", "VERSION", "SIZE", "DELETED"]
    rows = [[e.name, e.version, human_size(e.size), show_value(e.deleted_at)] for e in expired]
    return align([header, *rows], width=output_width())


def human_size(count: float | None) -> str:
    """``count`` bytes for people: ``512 B``, ``1.5 MiB``; ``-`` when unknown."""
    if count is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def output_width() -> int | None:
    """The columns a table may use: ``$COLUMNS``, else the terminal's; None when piped.

    A ``$COLUMNS`` that is no width is ignored: ``str.isdigit`` alone lets through "²"
    and numbers of 5,000 digits, on which ``int()`` raises.
    """
    columns = os.environ.get("COLUMNS", "")
    if re.fullmatch(r"[0-9]{1,6}", columns):
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def align(rows: list[list[str]], width: int | None = None) -> str:
    """The rows as text with every column padded to its widest cell.

    With ``width``, the last column is cut short (ending in an ellipsis) so that no line is
    longer; columns that still do not fit are left out, last first.
    """
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    count = len(widths)
    if width is not None:
        while count > 1 and sum(widths[: count - 1]) + 2 * (count - 1) + 4 > width:
            count -= 1  # not even a few characters of the last column fit
        widths = widths[:count]
        room = width - sum(widths[:-1]) - 2 * (count - 1)
        widths[-1] = max(1, min(widths[-1], room))
    lines = []
    for row in rows:
        cells = [fit_cell(cell, w) for cell, w in zip(row[:count], widths, strict=True)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines)


def fit_cell(cell: str, width: int) -> str:
    if len(cell) <= width:
        return cell
    mark = "…" if (sys.stdout.encoding or "").lower().replace("-", "") == "utf8" else "~"
    return cell[: max(0, width - 1)] + mark
