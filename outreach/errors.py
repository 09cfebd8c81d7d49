"""The one family of errors the services raise; `app.py` maps each kind to a status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

from outreach import reasons

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Unauthorised",
    "together",
]


class DomainError(Exception):
    """A rule said no. `field` names the offending input, `reason` is a stable code.

    `params` are the figures and names of the refusal (`{"max": 30, "persons": 502}`):
    the API answers them beside the code, and a page fills them into the reason's
    sentence from the catalogue (`outreach.reasons`) in the reader's language.
    """

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str | None = None,
        params: Mapping[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason
        self.params: dict[str, Any] = dict(params or {})
        self._with: tuple[DomainError, ...] = ()

    @property
    def every(self) -> tuple[DomainError, ...]:
        """This refusal and those found with it (`together`), in the order found."""
        return (self, *self._with)

    @classmethod
    def because(cls, reason: str, *, field: str | None = None, **params: Any) -> Self:
        """The error for a reason of the catalogue, its English sentence as the message."""
        return cls(reasons.english(reason, params), field=field, reason=reason, params=params)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.field:
            body["field"] = self.field
        if self.reason:
            body["reason"] = self.reason
        if self.params:
            body["params"] = reasons.json_params(self.params)
        return body


def together(found: Sequence[DomainError]) -> DomainError:
    """Several refusals of one input as one error: the first speaks for all where only one
    is read (an API body, a notice), and a form shows `every` one beside its field."""
    first, *others = found
    first._with = (*first._with, *others)
    return first


class Invalid(DomainError):
    """The input is malformed or breaks a rule about its own values."""

    status_code = 422


class NotFound(DomainError):
    """No such object, or one the caller may not know exists."""

    status_code = 404


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status_code = 403


class Unauthorised(DomainError):
    """The caller must sign in (or presented a bad token)."""

    status_code = 401


class Conflict(DomainError):
    """The request is well-formed but the world is not as it needs: full, clash, holiday."""

    status_code = 409
