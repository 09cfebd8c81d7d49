"""The one shape of every form a page posts: read it, let one service act, then go on
(POST-redirect-GET, 303) or show the form once more with the refusal beside its field.

A handler names only what differs: what the service is asked (`act`), where it goes on
(`done`) and what it shows again (`again`). Which errors count as a refusal of the
input (`Invalid`, `Conflict`) rather than an error page, their text in the reader's
language, where each lands on the form and the values kept as entered live here::

    return await handle_form(
        request,
        lambda data: events.create_event(convert(_event_values(data), EventIn), by=by),
        fields=_EVENT_FIELDS,
        done=lambda created: go_on(request, f"/firm/events/{created.id}", _("Saved.")),
        again=lambda r: _event_form(
            request, values=r.values, errors=r.errors, status_code=r.status_code
        ),
    )

A button without a form of its own to show again says the refusal on the page it
returns to: `again=back_to(request, path)`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from litestar import Request, Response

from outreach.errors import Conflict, DomainError, Invalid
from outreach.pages.common import FormErrors, error_text, flash, form_data, gettext_for, redirect

__all__ = ["AT_TOP", "REFUSALS", "Refused", "back_to", "go_on", "handle_form"]

T = TypeVar("T")
Answer = Response[Any]
MaybeAwaitable = Answer | Awaitable[Answer]

# Every refusal above the form, whatever field it names (`FormErrors.add`).
AT_TOP: Mapping[str, str] = MappingProxyType({})
# What the services raise when the input or the state says no; anything else (NotFound,
# Forbidden, a bug) is an error page, not a form to correct.
REFUSALS: tuple[type[DomainError], ...] = (Invalid, Conflict)


@dataclass(frozen=True)
class Refused:
    """What a refused form shows again: the values as entered and every error filed by
    field, in the form's order (`error` is the first, `text` says it)."""

    values: dict[str, Any]
    errors: FormErrors
    error: DomainError
    text: str  # the refusal in the reader's language
    status_code: int


async def handle_form(
    request: Request[Any, Any, Any],
    act: Callable[[dict[str, Any]], Awaitable[T]],
    *,
    done: Callable[[T], MaybeAwaitable],
    again: Callable[[Refused], MaybeAwaitable],
    fields: Mapping[str, str] | None = AT_TOP,
    refusals: tuple[type[DomainError], ...] = REFUSALS,
    status_code: int | None = 422,
    text: Callable[[DomainError], str] | None = None,
    data: dict[str, Any] | None = None,
) -> Answer:
    """Read the posted form (or take `data`), `act` on it, answer with `done` or `again`.

    `fields` maps the field a service names to the form's field (`None`: the same name;
    `AT_TOP`: every refusal above the form). `status_code` of the form shown again is
    422 unless given (`None`: the refusal's own, 409 for a conflict); `text` replaces
    the catalogue's wording of a refusal.
    """
    values = await form_data(request) if data is None else data
    try:
        result = await act(values)
    except refusals as exc:
        gettext = gettext_for(request)
        say = text or (lambda each: error_text(gettext, each))
        errors = FormErrors()
        errors.add(exc, fields, text=say)
        refused = Refused(
            values, errors.in_order_of(values), exc, say(exc), status_code or exc.status_code
        )
        return await _settle(again(refused))
    return await _settle(done(result))


def go_on(request: Request[Any, Any, Any], path: str, message: str | None = None) -> Answer:
    """Done: a notice for the next page (if any) and a 303 to `path`."""
    if message is not None:
        flash(request, message)
    return redirect(path)


def back_to(request: Request[Any, Any, Any], path: str) -> Callable[[Refused], Answer]:
    """For a button: the refusal becomes the notice on the page it goes back to."""

    def again(refused: Refused) -> Answer:
        return go_on(request, path, refused.text)

    return again


async def _settle(answer: MaybeAwaitable) -> Answer:
    return await answer if inspect.isawaitable(answer) else answer
