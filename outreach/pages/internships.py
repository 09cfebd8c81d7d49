"""Internship placements (issue 20): the public offers, a firm's offers and placements,
a school's class periods with their pupils' wishes and results, the office's rounds.

Mounted at `/internships` (everyone), under `/firm`, `/school` and `/office` (see
`outreach.pages`); the routes of each audience are relative to its router. Every rule
lives in `outreach.internships`; `internships.views` names what the pages show.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from outreach.errors import DomainError, Invalid, NotFound, together
from outreach.internships import classes, offers, placements, rounds, views, wishes
from outreach.internships.rules import period_days, today
from outreach.internships.schemas import (
    MAX_PUPILS,
    MAX_WISHES,
    ClassPeriodIn,
    OfferIn,
    OfferOut,
    PlacementAttendanceIn,
    PupilIn,
    RoundIn,
)
from outreach.organisations.services import list_organisations
from outreach.pages.common import (
    TOP,
    Checks,
    FormErrors,
    error_text,
    form_data,
    gettext_for,
    page,
    parse_date,
    parse_int,
    safe_next,
)
from outreach.pages.forms import Refused, back_to, go_on, handle_form
from outreach.pages.i18n import holiday_name, locale_of
from outreach.pages.messages import reason_text
from outreach.principal import Principal
from outreach.timeutil import utcnow
from outreach.web import IdPath

__all__ = ["FIRM_HANDLERS", "OFFICE_HANDLERS", "PUBLIC_HANDLERS", "SCHOOL_HANDLERS"]

GRADES = tuple(range(classes.GRADES[0], classes.GRADES[1] + 1))
PERIOD_ROWS = 3  # period rows of a new offer
ROWS_MORE = 10  # rows one "add rows" adds to the wish table
DASH = "\u2013"


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _period_label(p: views.PeriodName, locale: str) -> str:
    """How the pages and errors name a period: occupation, firm and dates."""
    first = p.starts_on.strftime("%d.%m.")
    last = p.ends_on.strftime("%d.%m.%Y")
    return f"{p.occupation} {DASH} {p.host_name} ({first}{DASH}{last})"


def _said(request: Request[Any, Any, Any], reason: str, params: dict[str, Any]) -> str:
    """An outcome's sentence in the reader's language; periods named, never numbered."""
    locale = locale_of(request)
    shown = dict(params)
    for key in ("starts_on", "ends_on"):  # stored as JSON: ISO dates, said as dates
        if isinstance(shown.get(key), str):
            shown[key] = parse_date(shown[key]) or shown[key]
    if "free" in shown:
        labels = shown.pop("_free_labels", None)
        shown["free"] = labels if labels is not None else DASH
    try:
        return reason_text(reason, shown, locale)
    except (KeyError, TypeError, ValueError):
        return reason


# --------------------------------------------------------------------------- public


@get("/internships")
async def offers_page(request: Request[Any, Any, Any], by: NamedDependency[Principal]) -> Template:
    q = request.query_params
    grade = parse_int(q.get("grade"))
    grade = grade if grade is not None and 1 <= grade <= 13 else None
    occupation = str(q.get("occupation") or "").strip()[:200]
    firm = str(q.get("firm") or "").strip()[:64]
    every = await offers.list_offers(by=by)
    found = await offers.list_offers(
        by=by, grade=grade, occupation=occupation or None, host=firm or None
    )
    firms = sorted({(o.host, o.host_name) for o in every}, key=lambda f: f[1].casefold())
    places = {
        org.slug: ", ".join(p for p in (org.street, f"{org.postal_code} {org.city}".strip()) if p)
        for org in await list_organisations(kind="firm")
    }
    return page(
        request,
        "internships/offers.html",
        offers=found,
        firms=firms,
        places=places,
        grades=GRADES,
        q={"grade": grade or "", "occupation": occupation, "firm": firm},
        filtered=bool(grade or occupation or firm),
    )


PUBLIC_HANDLERS = [offers_page]


# --------------------------------------------------------------------------- firm

_OFFER_FIELDS = {
    "occupation": "occupation",
    "grades": "grades",
    "description": "description",
    "contact_name": "contact_name",
    "contact_email": "contact_email",
    "status": "status",
    "periods": "p0_starts_on",
    "host": TOP,
} | {
    f"periods[{i}].{part}": f"p{i}_{part}"
    for i in range(PERIOD_ROWS)
    for part in ("starts_on", "ends_on", "places")
}


async def _own_offer(offer_id: int, by: Principal) -> OfferOut:
    """One of the firm's own offers (the office: any); NotFound for another firm's."""
    for offer in await offers.offers_of_host(by=by):
        if offer.id == offer_id:
            return offer
    raise NotFound("no such offer", field="offer")


def _offer_values(data: dict[str, Any], checks: Checks) -> dict[str, Any]:
    return {
        "occupation": str(data.get("occupation", "")).strip(),
        "grades": _list(data.get("grades")),
        "description": data.get("description", ""),
        "contact_name": str(data.get("contact_name", "")).strip(),
        "contact_email": str(data.get("contact_email", "")).strip(),
        "status": data.get("status") or "draft",
    }


def _periods_of(data: dict[str, Any], checks: Checks) -> list[dict[str, Any]]:
    """The filled period rows of the form; each unreadable value a refusal of its own."""
    found = []
    for i in range(PERIOD_ROWS):
        raw = {
            part: str(data.get(f"p{i}_{part}", "")).strip()
            for part in ("starts_on", "ends_on", "places")
        }
        if not any(raw.values()):
            continue
        row: dict[str, Any] = {}
        for part in ("starts_on", "ends_on"):
            day = parse_date(raw[part])
            if day is None:
                checks.found.append(Invalid.because("required", field=f"periods[{i}].{part}"))
            row[part] = day
        places = parse_int(raw["places"])
        if places is None or not 1 <= places <= 500:
            checks.found.append(
                Invalid.because("out_of_range", field=f"periods[{i}].places", min=1, max=500)
            )
        row["places"] = places
        found.append(row)
    if not found and not checks.found:
        checks.found.append(Invalid.because("required", field="periods[0].starts_on"))
    return found


def _offer_in(data: dict[str, Any], periods: list[dict[str, Any]] | None) -> OfferIn:
    checks = Checks()
    values = _offer_values(data, checks)
    rows = _periods_of(data, checks) if periods is None else periods
    # A period row refused above is said beside its field; the struct is checked with a
    # stand-in period then, so its other fields are said at once too.
    stand_in = [{"starts_on": "2000-01-01", "ends_on": "2000-01-01", "places": 1}]
    usable = rows if not checks.found else stand_in
    return checks.finish({**values, "periods": usable}, OfferIn)


def _offer_form(
    request: Request[Any, Any, Any],
    *,
    offer: OfferOut | None,
    values: dict[str, Any],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "internships/offer_form.html",
        offer=offer,
        values=values,
        errors=errors,
        status_code=status_code,
        grades=GRADES,
        rows=range(PERIOD_ROWS),
    )


def _form_of(offer: OfferOut) -> dict[str, Any]:
    return {
        "occupation": offer.occupation,
        "grades": [str(g) for g in offer.grades],
        "description": offer.description,
        "contact_name": offer.contact_name,
        "contact_email": offer.contact_email,
        "status": offer.status,
    } | {f"places_{p.id}": str(p.places) for p in offer.periods}


@get("/internships")
async def firm_internships(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    mine = await offers.offers_of_host(by=by)
    placed = await placements.list_placements(by=by)
    return page(
        request,
        "internships/firm.html",
        offers=mine,
        placements=placed,
        today=today(utcnow()),
        no_store=True,
    )


@get("/internships/offers/new")
async def new_offer_form(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    return _offer_form(request, offer=None, values={"status": "draft"})


@post("/internships/offers/new")
async def create_offer(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    return await handle_form(
        request,
        lambda data: offers.create_offer(_offer_in(data, None), by=by),
        fields=_OFFER_FIELDS,
        done=lambda made: go_on(request, f"/firm/internships/offers/{made.id}", _("Saved.")),
        again=lambda r: _offer_form(
            request, offer=None, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@get("/internships/offers/{offer_id:int}")
async def offer_page(
    request: Request[Any, Any, Any], offer_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    offer = await _own_offer(offer_id, by)
    placed = [p for p in await placements.list_placements(by=by) if p.offer == offer_id]
    return page(
        request,
        "internships/offer.html",
        offer=offer,
        placements=placed,
        today=today(utcnow()),
        no_store=True,
    )


@get("/internships/offers/{offer_id:int}/edit")
async def edit_offer_form(
    request: Request[Any, Any, Any], offer_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    offer = await _own_offer(offer_id, by)
    return _offer_form(request, offer=offer, values=_form_of(offer))


@post("/internships/offers/{offer_id:int}/edit")
async def edit_offer(
    request: Request[Any, Any, Any], offer_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    offer = await _own_offer(offer_id, by)
    fields = dict(_OFFER_FIELDS) | {f"places_{p.id}": f"places_{p.id}" for p in offer.periods}

    async def save(data: dict[str, Any]) -> OfferOut:
        kept = [
            {"starts_on": p.starts_on, "ends_on": p.ends_on, "places": p.places}
            for p in offer.periods
        ]
        checked = _offer_in(data, kept)
        found: list[DomainError] = []
        for p in offer.periods:
            places = parse_int(data.get(f"places_{p.id}"))
            if places == p.places:
                continue
            try:
                await offers.set_places(p.id, places if places is not None else 0, by=by)
            except Invalid as exc:
                found.append(
                    Invalid(
                        exc.message, field=f"places_{p.id}", reason=exc.reason, params=exc.params
                    )
                )
        if found:
            raise together(found)
        return await offers.update_offer(offer_id, checked, by=by)

    return await handle_form(
        request,
        save,
        fields=fields,
        done=lambda _o: go_on(request, f"/firm/internships/offers/{offer_id}", _("Saved.")),
        again=lambda r: _offer_form(
            request, offer=offer, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )


@post("/internships/offers/{offer_id:int}/status")
async def offer_status(
    request: Request[Any, Any, Any], offer_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    await _own_offer(offer_id, by)
    path = f"/firm/internships/offers/{offer_id}"

    async def change(data: dict[str, Any]) -> OfferOut:
        status = "published" if data.get("status") == "published" else "draft"
        return await offers.set_offer_status(offer_id, status, by=by)  # type: ignore[arg-type]

    return await handle_form(
        request,
        change,
        done=lambda o: go_on(
            request, path, _("Published.") if o.status == "published" else _("Taken back to draft.")
        ),
        again=back_to(request, path),
    )


def _back(data: dict[str, Any], default: str) -> str:
    return safe_next(str(data.get("next") or ""), default)


@post("/internships/placements/{placement_id:int}/confirm")
async def confirm_placement(
    request: Request[Any, Any, Any], placement_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    path = _back(data, "/firm/internships")
    return await handle_form(
        request,
        lambda _d: placements.confirm_placement(placement_id, by=by),
        data=data,
        done=lambda p: go_on(request, path, _("You have taken %(name)s.") % {"name": p.first_name}),
        again=back_to(request, path),
    )


@post("/internships/placements/{placement_id:int}/attendance")
async def record_attendance(
    request: Request[Any, Any, Any], placement_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    path = _back(data, "/firm/internships")

    async def record(values: dict[str, Any]) -> Any:
        checked = Checks().finish(
            {
                "days_attended": values.get("days_attended"),
                "apprenticeship_offered": values.get("apprenticeship_offered") == "1",
            },
            PlacementAttendanceIn,
        )
        return await placements.record_attendance(placement_id, checked, by=by)

    return await handle_form(
        request,
        record,
        data=data,
        done=lambda p: go_on(
            request, path, _("Attendance of %(name)s saved.") % {"name": p.first_name}
        ),
        again=back_to(request, path),
    )


FIRM_HANDLERS = [
    firm_internships,
    new_offer_form,
    create_offer,
    offer_page,
    edit_offer_form,
    edit_offer,
    offer_status,
    confirm_placement,
    record_attendance,
]


# --------------------------------------------------------------------------- school

_CLASS_FIELDS = {
    name: name for name in ("class_label", "grade", "starts_on", "ends_on", "wishes_until")
} | {"school": TOP}


async def _classes_page(
    request: Request[Any, Any, Any],
    by: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "internships/school.html",
        classes=await views.classes_with_wishes(by=by),
        values=values or {},
        errors=errors,
        status_code=status_code,
        grades=GRADES,
    )


@get("/internships")
async def school_internships(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    return await _classes_page(request, by)


@post("/internships/classes")
async def create_class(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def create(data: dict[str, Any]) -> Any:
        values = {k: str(data.get(k, "")).strip() for k in _CLASS_FIELDS if k != "school"}
        return await classes.create_class_period(Checks().finish(values, ClassPeriodIn), by=by)

    async def again(r: Refused) -> Template:
        return await _classes_page(
            request, by, values=r.values, errors=r.errors, status_code=r.status_code
        )

    return await handle_form(
        request,
        create,
        fields=_CLASS_FIELDS,
        done=lambda made: go_on(request, f"/school/internships/classes/{made.id}", _("Saved.")),
        again=again,
    )


@get("/internships/classes/{class_id:int}")
async def class_page(
    request: Request[Any, Any, Any], class_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    klass = await classes.get_class(class_id, by=by)
    locale = locale_of(request)
    days = [
        {
            "day": d.day,
            "kind": d.kind,
            "holiday": holiday_name(d.holiday, d.holiday_en, locale) if d.holiday else "",
        }
        for d in period_days(klass.starts_on, klass.ends_on)
    ]
    results = await views.class_results(class_id, by=by)
    return page(
        request,
        "internships/class.html",
        klass=klass,
        days=days,
        results=[
            (r, _said(request, r.reason, _with_free(r.params, r.free, locale))) for r in results
        ],
        label=lambda p: _period_label(p, locale),
        no_store=True,
    )


def _with_free(params: dict[str, Any], free: list[views.PeriodName], locale: str) -> dict[str, Any]:
    if "free" not in params:
        return params
    labels = "; ".join(_period_label(p, locale) for p in free) or DASH
    return {**params, "_free_labels": labels}


def _wish_rows(
    data: dict[str, Any], count: int
) -> tuple[list[dict[str, Any]], list[PupilIn], list[int]]:
    """The table's rows as entered, the pupils of its filled rows and their row numbers."""
    rows: list[dict[str, Any]] = []
    pupils: list[PupilIn] = []
    at: list[int] = []
    for r in range(count):
        row = {
            "code": str(data.get(f"code_{r}", "")).strip(),
            "first_name": str(data.get(f"first_name_{r}", "")).strip(),
            "wishes": [str(data.get(f"wish{k}_{r}", "")).strip() for k in range(1, MAX_WISHES + 1)],
        }
        rows.append(row)
        chosen = [int(w) for w in row["wishes"] if w.isdigit()]
        if row["code"] or row["first_name"] or chosen:
            pupils.append(
                PupilIn(code=row["code"][:32], first_name=row["first_name"][:100], wishes=chosen)
            )
            at.append(r)
    return rows, pupils, at


def _renamed(
    exc: DomainError,
    where: list[int],
    wish_column: Any,
    names: dict[int, views.PeriodName],
    locale: str,
) -> DomainError:
    """The service's refusals (`pupils[2].wishes`) filed under the page's fields (a row's
    code or the wish select holding the period), periods named rather than numbered."""
    found = []
    for each in exc.every:
        field: str | None = None
        params = dict(each.params)
        if each.field and each.field.startswith("pupils[") and "]." in each.field:
            index = int(each.field[len("pupils[") : each.field.index("]")])
            row = where[index] if index < len(where) else index
            part = each.field.split("].", 1)[1]
            if part == "code":
                field = f"code_{row}"
            else:
                field = f"wish{wish_column(index, params.get('id'))}_{row}"
        if isinstance(params.get("id"), int) and params["id"] in names:
            params["id"] = _period_label(names[params["id"]], locale)
        found.append(type(each)(each.message, field=field, reason=each.reason, params=params))
    return together(found)


async def _wish_page(
    request: Request[Any, Any, Any],
    class_id: int,
    by: Principal,
    *,
    rows: list[dict[str, Any]] | None = None,
    errors: FormErrors | None = None,
    csv_problems: list[str] | None = None,
    status_code: int = 200,
) -> Template:
    klass = await classes.get_class(class_id, by=by)
    locale = locale_of(request)
    fitting = await views.fitting_periods(klass)
    if rows is None:
        rows = [
            {
                "code": p.code,
                "first_name": p.first_name,
                "wishes": [str(w) for w in p.wishes] + [""] * (MAX_WISHES - len(p.wishes)),
            }
            for p in await wishes.pupils_of_class(class_id, by=by)
        ]
        rows += [
            {"code": "", "first_name": "", "wishes": [""] * MAX_WISHES}
            for _ in range(min(MAX_PUPILS, max(len(rows) + 5, 30)) - len(rows))
        ]
    chosen = {w for row in rows for w in row["wishes"] if w}
    options = [
        (str(p.id), f"{_period_label(p, locale)}, {p.free}/{p.places}")
        for p in fitting
        if p.free > 0 or str(p.id) in chosen
    ]
    closed = (not by.is_admin and today(utcnow()) > klass.wishes_until) or (
        await wishes.class_in_confirmed_round(class_id)
    )
    return page(
        request,
        "internships/pupils.html",
        klass=klass,
        rows=rows,
        options=options,
        fitting=fitting,
        label=lambda p: _period_label(p, locale),
        closed=closed,
        errors=errors,
        csv_problems=csv_problems or [],
        wishes=range(1, MAX_WISHES + 1),
        can_add=len(rows) < MAX_PUPILS,
        status_code=status_code,
        no_store=True,
    )


@get("/internships/classes/{class_id:int}/pupils")
async def pupils_page(
    request: Request[Any, Any, Any], class_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    return await _wish_page(request, class_id, by)


@post("/internships/classes/{class_id:int}/pupils")
async def save_pupils(
    request: Request[Any, Any, Any], class_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    locale = locale_of(request)
    await classes.get_class(class_id, by=by)  # another school's class: 404
    data = await form_data(request)
    count = min(MAX_PUPILS, max(0, parse_int(data.get("rows"), default=0) or 0))
    rows, pupils, at = _wish_rows(data, count)
    if "add_rows" in data:
        more = min(MAX_PUPILS, count + ROWS_MORE) - count
        rows += [{"code": "", "first_name": "", "wishes": [""] * MAX_WISHES} for _ in range(more)]
        return await _wish_page(request, class_id, by, rows=rows)

    def column(index: int, wished: Any) -> int:
        got = pupils[index].wishes if index < len(pupils) else []
        if wished in got:
            # A period wished twice: the second select holding it.
            ranks = [k for k, w in enumerate(got, 1) if w == wished]
            return _column_of(rows[at[index]], ranks[-1])
        return 1

    async def save(_data: dict[str, Any]) -> Any:
        try:
            return await wishes.put_pupils(class_id, pupils, by=by)
        except DomainError as exc:
            names = await views.period_names({p for pupil in pupils for p in pupil.wishes})
            raise _renamed(exc, at, column, names, locale) from exc

    async def again(r: Refused) -> Template:
        return await _wish_page(
            request, class_id, by, rows=rows, errors=r.errors, status_code=r.status_code
        )

    return await handle_form(
        request,
        save,
        data=data,
        fields=None,
        done=lambda saved: go_on(
            request,
            f"/school/internships/classes/{class_id}/pupils",
            _("%(n)s pupils saved.") % {"n": len(saved)},
        ),
        again=again,
    )


def _column_of(row: dict[str, Any], rank: int) -> int:
    """The select (1..3) of the `rank`-th filled wish of the row (blank selects skipped)."""
    filled = [k for k, w in enumerate(row["wishes"], 1) if w.isdigit()]
    return filled[rank - 1] if rank - 1 < len(filled) else 1


@post("/internships/classes/{class_id:int}/pupils/csv")
async def upload_pupils(
    request: Request[Any, Any, Any], class_id: IdPath, by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)
    locale = locale_of(request)
    await classes.get_class(class_id, by=by)
    form = await request.form()
    upload = form.get("file")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""
    pupils, lines, problems = views.parse_pupils_csv(raw[:200_000])
    said = [_csv_problem(_, p) for p in problems]
    if not said:
        try:
            saved = await wishes.put_pupils(class_id, pupils, by=by)
        except DomainError as exc:
            if exc.status_code not in (409, 422):
                raise
            names = await views.period_names({w for p in pupils for w in p.wishes})
            for each in exc.every:
                said.append(_csv_refusal(_, each, lines, names, locale))
        else:
            return go_on(
                request,
                f"/school/internships/classes/{class_id}/pupils",
                _("%(n)s pupils saved.") % {"n": len(saved)},
            )
    errors = FormErrors(
        {"file": _("The file was not stored: %(n)s problems, listed below.") % {"n": len(said)}}
    )
    return await _wish_page(
        request, class_id, by, errors=errors, csv_problems=said, status_code=422
    )


def _csv_problem(_: Any, p: views.CsvProblem) -> str:
    if p.kind == "encoding":
        return _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
    if p.kind == "empty":
        return _("The file has no line with a pupil.")
    if p.kind == "too_many":
        return _("Line %(line)s: a class has at most %(max)s pupils.") % {
            "line": p.line,
            "max": p.value,
        }
    if p.kind == "columns":
        return _("Line %(line)s: %(n)s columns; a line has code;first_name;wish1;wish2;wish3.") % {
            "line": p.line,
            "n": p.value,
        }
    return _("Line %(line)s, column %(column)s: “%(value)s” is not the number of an offer.") % {
        "line": p.line,
        "column": p.column,
        "value": p.value,
    }


def _csv_refusal(
    _: Any,
    each: DomainError,
    lines: list[int],
    names: dict[int, views.PeriodName],
    locale: str,
) -> str:
    params = dict(each.params)
    if isinstance(params.get("id"), int) and params["id"] in names:
        params["id"] = _period_label(names[params["id"]], locale)
    text = error_text(
        _, type(each)(each.message, field=each.field, reason=each.reason, params=params)
    )
    field = each.field or ""
    if field.startswith("pupils[") and "]." in field:
        index = int(field[len("pupils[") : field.index("]")])
        column = "code" if field.endswith(".code") else f"wish1{DASH}wish3"
        line = lines[index] if index < len(lines) else index + 1
        return _("Line %(line)s, column %(column)s: %(text)s") % {
            "line": line,
            "column": column,
            "text": text,
        }
    return text


@post("/internships/placements/{placement_id:int}/cancel")
async def cancel_placement(
    request: Request[Any, Any, Any], placement_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    data = await form_data(request)
    path = _back(data, "/school/internships")
    return await handle_form(
        request,
        lambda values: placements.cancel_placement(
            placement_id, by=by, reason=str(values.get("reason", ""))[:2000]
        ),
        data=data,
        done=lambda p: go_on(
            request,
            path,
            _("The placement of %(name)s is cancelled; the place went to the next in line, if any.")
            % {"name": p.first_name},
        ),
        again=back_to(request, path),
    )


SCHOOL_HANDLERS = [
    school_internships,
    create_class,
    class_page,
    pupils_page,
    save_pupils,
    upload_pupils,
    cancel_placement,
]


# --------------------------------------------------------------------------- office


async def _office_page(
    request: Request[Any, Any, Any],
    by: Principal,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "internships/office.html",
        classes=await views.classes_with_wishes(by=by),
        rounds=await views.rounds_overview(by=by),
        values=values or {},
        errors=errors,
        status_code=status_code,
    )


@get("/internships")
async def office_internships(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template:
    return await _office_page(request, by)


@post("/internships/rounds")
async def start_round(
    request: Request[Any, Any, Any], by: NamedDependency[Principal]
) -> Template | Redirect:
    _ = gettext_for(request)

    async def start(data: dict[str, Any]) -> Any:
        chosen = [c for c in _list(data.get("classes")) if c]
        checks = Checks()
        if not chosen:
            checks.found.append(Invalid.because("required", field="classes"))
        seed = str(data.get("seed", "")).strip()
        checked = checks.finish({"classes": chosen, "seed": seed}, RoundIn)
        return await rounds.preview_round(checked, by=by)

    async def again(r: Refused) -> Template:
        return await _office_page(
            request, by, values=r.values, errors=r.errors, status_code=r.status_code
        )

    return await handle_form(
        request,
        start,
        fields={"classes": "classes", "seed": "seed"},
        done=lambda made: go_on(request, f"/office/internships/rounds/{made.id}"),
        again=again,
    )


@get("/internships/rounds/{round_id:int}")
async def round_page(
    request: Request[Any, Any, Any], round_id: IdPath, by: NamedDependency[Principal]
) -> Template:
    found = await views.round_view(round_id, by=by)
    locale = locale_of(request)
    placed = len([r for r in found.placed if r.status != "cancelled"])
    return page(
        request,
        "internships/round.html",
        r=found,
        placed_count=placed,
        # Shares of all the round's pupils, in percent.
        share={
            k: (100 * n / found.pupils if found.pupils else 0) for k, n in found.by_rank.items()
        },
        placed=[(row, _said(request, row.reason, row.params)) for row in found.placed],
        unplaced=[
            (row, _said(request, row.reason, _with_free(row.params, row.free, locale)))
            for row in found.unplaced
        ],
        label=lambda p: _period_label(p, locale),
        no_store=True,
    )


@post("/internships/rounds/{round_id:int}/confirm")
async def confirm_round(
    request: Request[Any, Any, Any], round_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    path = f"/office/internships/rounds/{round_id}"
    return await handle_form(
        request,
        lambda _d: rounds.confirm_round(round_id, by=by),
        done=lambda _r: go_on(
            request, path, _("The round is confirmed; teachers and firms are told.")
        ),
        again=back_to(request, path),
    )


@post("/internships/rounds/{round_id:int}/discard")
async def discard_round(
    request: Request[Any, Any, Any], round_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    _ = gettext_for(request)
    return await handle_form(
        request,
        lambda _d: rounds.discard_round(round_id, by=by),
        done=lambda _r: go_on(request, "/office/internships", _("The preview is discarded.")),
        again=back_to(request, f"/office/internships/rounds/{round_id}"),
    )


@post("/internships/placements/{placement_id:int}/cancel")
async def office_cancel(
    request: Request[Any, Any, Any], placement_id: IdPath, by: NamedDependency[Principal]
) -> Redirect:
    return await cancel_placement.fn(request, placement_id, by)


OFFICE_HANDLERS = [
    office_internships,
    start_round,
    round_page,
    confirm_round,
    discard_round,
    office_cancel,
]
