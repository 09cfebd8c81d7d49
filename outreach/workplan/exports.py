"""Reports and booking lists as CSV and XLSX files.

Spreadsheets run formulas: a cell that begins with = + - @ (or a tab or carriage
return) from user input (an event title, a class label, a name) could run one in the
reader's Excel. Such text is written with a leading apostrophe, in both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

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


# The keys of the booking export's columns; the pages name them in the reader's language.
BOOKING_COLUMNS = (
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
    "notes",
)


def booking_rows(bookings: Iterable[BookingOut]) -> list[list[Any]]:
    """The bookings as rows under BOOKING_COLUMNS: codes, names and the time as an instant.

    The note is in it: the export is read by the booking's host, the booker or the office,
    as `list_bookings` decides, never by another firm.
    """
    rows: list[list[Any]] = [list(BOOKING_COLUMNS)]
    for b in bookings:
        rows.append(
            [
                b.id,
                b.status,
                b.kind,
                b.starts_at,
                b.event_title,
                b.host_name or b.host,
                (b.school_name or b.school or "") if b.kind == "class_visit" else "",
                b.class_label,
                b.grade,
                b.pupils,
                b.adults,
                b.persons,
                b.contact_name,
                b.contact_email,
                b.notes,
            ]
        )
    return rows


def to_csv(rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel reads umlauts right."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else defuse(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# Excel's built-in date-and-time format: each reader's Excel shows it in their own notation.
_XLSX_DATETIME = "m/d/yy h:mm"


def to_xlsx(rows: Sequence[Sequence[Any]], *, sheet: str = "Report") -> bytes:
    """Numbers stay numbers and instants become date cells (Europe/Berlin wall time)."""
    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    for row in rows:
        ws.append([_xlsx_value(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = _XLSX_DATETIME
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # A spreadsheet has no time zones: the wall time where the visit happens.
        return local(value).replace(tzinfo=None)
    return defuse(value)
