"""Reports and booking lists as CSV and XLSX files, for Excel in the reader's language.

Rows come in typed: int and float, `Percent`, datetime and date, text. The CSV writes
each as the reader's Excel reads it back (separator, decimal sign, dates: `csv_text`);
the workbook keeps the types, with a number format per cell.

Spreadsheets run formulas: a cell that begins with = + - @ (or a tab or carriage
return) from user input (an event title, a class label, a name) could run one in the
reader's Excel. Such text is written with a leading apostrophe, in both formats.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from outreach.booking.schemas import BookingOut
from outreach.languages import babel_locale
from outreach.timeutil import LOCAL_TZ, local
from outreach.workplan.schemas import Cell, ReportOut

__all__ = [
    "BOOKING_COLUMNS",
    "CONTENT_TYPES",
    "CSV_DELIMITERS",
    "Percent",
    "booking_rows",
    "csv_text",
    "defuse",
    "report_rows",
    "to_csv",
    "to_xlsx",
]

# "text/csv" alone: the framework adds its "; charset=utf-8" to every text/* type.
CONTENT_TYPES = {
    "csv": "text/csv",
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


# The list separator of the reader's Excel: a semicolon where the comma is the decimal sign.
CSV_DELIMITERS = {"de": ";", "cs": ";", "en": ","}
# A time as the reader's Excel reads it back as a date: its own notation, ISO for English
# (no guessing between 12/07 and 07/12).
_CSV_DATETIME = {"de": "dd.MM.yyyy HH:mm", "cs": "dd.MM.yyyy HH:mm", "en": "yyyy-MM-dd HH:mm"}
_CSV_DATE = {"de": "dd.MM.yyyy", "cs": "dd.MM.yyyy", "en": "yyyy-MM-dd"}


class Percent(float):
    """A percentage as 0-100 (41.7 is 41.7 %): written "41,7 %" in a German CSV and as a
    percent cell (0.417, shown 41.7%) in a workbook."""


def csv_text(value: Any, locale: str) -> str:
    """One cell of a CSV file as `locale` writes it, so that Excel in that language reads
    numbers, percentages and dates back as such: no thousands separators (Czech would
    write a no-break space), the locale's decimal sign and a plain space before "%"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Percent):
        text = format_percent(
            value / 100, _csv_percent_pattern(locale), locale=babel_locale(locale)
        )
        return text.replace("\u00a0", " ")
    if isinstance(value, int | float):
        return format_decimal(value, "0.###", locale=babel_locale(locale))
    if isinstance(value, datetime):
        return format_datetime(
            value, _CSV_DATETIME[locale], tzinfo=LOCAL_TZ, locale=babel_locale(locale)
        )
    if isinstance(value, date):
        return format_date(value, _CSV_DATE[locale], locale=babel_locale(locale))
    return str(defuse(str(value)))


@cache
def _csv_percent_pattern(locale: str) -> str:
    """The locale's percent pattern without grouping, one optional decimal."""
    pattern = babel_locale(locale).percent_formats[None].pattern
    return pattern.replace("#,##0", "0.#", 1)


def to_csv(rows: Sequence[Sequence[Any]], locale: str = "en") -> bytes:
    """A CSV file for Excel in `locale`: its list separator, its notation of numbers and
    times (`csv_text`), UTF-8 with a byte-order mark so that umlauts come out right.
    Text that a spreadsheet would run as a formula is defused."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=CSV_DELIMITERS[locale], lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_text(v, locale) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# Number formats of the typed cells. Excel shows the built-in date formats (14 and 22)
# in each reader's own notation.
_XLSX_FORMATS: dict[type, str] = {
    Percent: "0.0%",
    int: "0",
    float: "0.0##",
    datetime: "m/d/yy h:mm",
    date: "mm-dd-yy",
}
_XLSX_MAX_WIDTH = 60


def to_xlsx(rows: Sequence[Sequence[Any]], *, sheet: str = "Report") -> bytes:
    """A workbook whose first row is the heading (bold, frozen, filtered) and whose cells
    keep their types: numbers, percentages (fractions shown as %) and dates (Europe/Berlin
    wall time) with a number format each; columns as wide as their longest entry."""
    # openpyxl takes a quarter of a second to import: only a workbook download pays it,
    # not every process that starts.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    widths: dict[int, int] = {}
    for index, row in enumerate(rows):
        ws.append([_xlsx_value(v) for v in row])
        for column, (value, cell) in enumerate(zip(row, ws[ws.max_row], strict=True), 1):
            shown = csv_text(value, "en")
            if type(value) in _XLSX_FORMATS:
                cell.number_format = _XLSX_FORMATS[type(value)]
            if index == 0:
                cell.font = Font(bold=True)
            widths[column] = max(widths.get(column, 0), len(shown) + 2)
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(width, _XLSX_MAX_WIDTH)
    if rows:
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Percent):
        return float(value) / 100  # a percent cell holds the fraction
    if isinstance(value, datetime):
        # A spreadsheet has no time zones: the wall time where the visit happens.
        return local(value).replace(tzinfo=None)
    return defuse(value)
