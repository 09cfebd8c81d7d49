"""Reports and booking lists as CSV and XLSX files.

Spreadsheets run formulas: a cell that begins with = + - @ (or a tab or carriage
return) from user input (an event title, a class label, a name) could run one in the
reader's Excel. Such text is written with a leading apostrophe, in both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook

from outreach.booking.schemas import BookingOut
from outreach.timeutil import local
from outreach.workplan.schemas import Cell, ReportOut

__all__ = [
    "BOOKING_COLUMNS",
    "CONTENT_TYPES",
    "booking_rows",
    "defuse",
    "report_rows",
    "to_csv",
    "to_xlsx",
]

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Cell) -> Cell:
    """Text that a spreadsheet would take as a formula, made plain text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def report_rows(report: ReportOut) -> list[list[Cell]]:
    rows: list[list[Cell]] = [list(report.columns), *report.rows]
    if report.total is not None:
        rows.append(list(report.total))
    return rows


BOOKING_COLUMNS = [
    "id",
    "status",
    "kind",
    "starts_at",
    "event",
    "host",
    "school",
    "class",
    "grade",
    "pupils",
    "adults",
    "persons",
    "contact_name",
    "contact_email",
]


def booking_rows(bookings: Iterable[BookingOut]) -> list[list[Cell]]:
    rows: list[list[Cell]] = [list(BOOKING_COLUMNS)]
    for b in bookings:
        rows.append(
            [
                b.id,
                b.status,
                b.kind,
                local(b.starts_at).strftime("%Y-%m-%d %H:%M"),
                b.event_title,
                b.host,
                b.school or "",
                b.class_label,
                b.grade,
                b.pupils,
                b.adults,
                b.persons,
                b.contact_name,
                b.contact_email,
            ]
        )
    return rows


def to_csv(rows: Sequence[Sequence[Cell]]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel reads umlauts right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else defuse(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[Sequence[Cell]], *, sheet: str = "Report") -> bytes:
    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    for row in rows:
        ws.append([defuse(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
