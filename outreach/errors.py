"""The one family of errors the services raise; `app.py` maps each kind to a status."""

from __future__ import annotations

__all__ = ["Conflict", "DomainError", "Forbidden", "Invalid", "NotFound", "Unauthorised"]


class DomainError(Exception):
    """A rule said no. `field` names the offending input, `reason` is a stable code."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason

    def to_dict(self) -> dict[str, str]:
        body = {"message": self.message}
        if self.field:
            body["field"] = self.field
        if self.reason:
            body["reason"] = self.reason
        return body


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
