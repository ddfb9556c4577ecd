"""Charts drawn on the server as plain SVG geometry; the template writes the markup.

Hand-made because two chart shapes (horizontal bars, a 7 x 24 heatmap) are
simpler to lay out than to configure; every chart has its data table beside
it for screen readers and a CSV download.
"""

from __future__ import annotations

from typing import Any

from booking.i18n import _
from booking.templating import percent, weekday_name
BAR_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 320, 18, 160


def bars(rows: list[dict[str, Any]], by: str) -> dict[str, Any]:
    """One bar per room (or building), its length the utilisation."""
    items = []
    for i, row in enumerate(rows):
        share = row["utilisation"] or 0.0
        label = row["room_name"] if by == "room" else (row["building"] or _("(no building)"))
        items.append({"label": label, "y": i * (BAR_HEIGHT + 6),
                      "width": round(BAR_WIDTH * min(share, 1.0), 1),
                      "percent": percent(share)})
    return {"items": items, "height": max(1, len(items)) * (BAR_HEIGHT + 6),
            "label_width": LABEL_WIDTH, "bar_width": BAR_WIDTH, "bar_height": BAR_HEIGHT}


def heatmap(rows: list[dict[str, Any]], cell: int = 22) -> dict[str, Any]:
    """A weekday x hour grid; a cell's shade is its utilisation."""
    hours = sorted({r["hour"] for r in rows}) or list(range(9, 18))
    column = {hour: i for i, hour in enumerate(hours)}
    cells = []
    for r in rows:
        share = r["utilisation"] or 0.0
        cells.append({"x": 40 + column[r["hour"]] * cell, "y": 20 + (r["weekday"] - 1) * cell,
                      "opacity": round(0.08 + 0.92 * min(share, 1.0), 3),
                      "title": _("%(day)s %(hour)s: %(share)s booked",
                                 day=weekday_name(r["weekday"]), hour=f"{r['hour']:02d}:00",
                                 share=percent(share))})
    return {"cells": cells, "cell": cell, "hours": [(40 + column[h] * cell, h) for h in hours],
            "days": [(20 + i * cell, weekday_name(i + 1)) for i in range(7)],
            "width": 40 + len(hours) * cell + 4, "height": 20 + 7 * cell + 4}
