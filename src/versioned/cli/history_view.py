"""``versioned alias history`` for people: a table in which WHO survives a narrow
terminal (other columns give way first) and identities are shortened (:mod:`..notation`);
``--json`` keeps every field whole."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import AliasChange
from ..notation import describe_state, short_who
from .output import fit_cell, show_value

HEADER = ("REV", "WHEN", "ACTION", "FROM", "TO", "REASON", "WHO")
_FROM, _TO, _REASON, _WHEN, _WHO = 3, 4, 5, 1, 6
#: how the columns give way on a narrow terminal, in turn: (column, the width it keeps).
#: A width of 0 leaves the column out. The reason goes first (--json has it whole),
#: then the targets, the time's seconds and date; WHO last: in an incident it is the
#: column people look for.
GIVE_WAY = (
    (_REASON, 6),
    (_FROM, 10),
    (_TO, 10),
    (_REASON, 0),
    (_WHEN, 11),
    (_FROM, 6),
    (_TO, 6),
    (_WHO, 12),
)
_GAP = 2


def history_text(changes: Sequence[AliasChange], width: int | None) -> str:
    """The changes as aligned rows under :data:`HEADER`; with ``width``, no line longer
    than ``width`` when the columns can give way that far (:data:`GIVE_WAY`)."""
    rows = [list(HEADER)] + [
        [
            str(change.revision),
            show_value(change.update_at),
            change.action,
            describe_state(change.before),
            describe_state(change.after),
            change.reason or "-",
            short_who(change.who),
        ]
        for change in changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    if width is not None:
        widths = _give_way(widths, width)
    shown = [i for i, w in enumerate(widths) if w > 0]
    lines = []
    for row in rows:
        cells = [fit_cell(row[i], widths[i]).ljust(widths[i]) for i in shown]
        lines.append((" " * _GAP).join(cells).rstrip())
    return "\n".join(lines)


def _give_way(widths: list[int], width: int) -> list[int]:
    """``widths`` narrowed in the order of :data:`GIVE_WAY` until the line fits ``width``."""
    widths = list(widths)

    def total() -> int:
        shown = [w for w in widths if w > 0]
        return sum(shown) + _GAP * (len(shown) - 1)

    for column, keeps in GIVE_WAY:
        excess = total() - width
        if excess <= 0:
            break
        if keeps == 0:
            widths[column] = 0
        else:
            widths[column] = min(widths[column], max(keeps, widths[column] - excess))
    return widths
