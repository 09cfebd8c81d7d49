"""Who is acting: passed keyword-only into every service call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ANONYMOUS", "Principal", "Role"]

Role = Literal["anonymous", "admin", "firm", "school"]


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    user_id: int | None = None
    org_id: int | None = None
    email: str | None = None
    language: str = "de"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_member(self) -> bool:
        """Signed in as anyone of the network (sees `network` visibility)."""
        return self.role != "anonymous"

    def belongs_to(self, org_id: int | None) -> bool:
        return org_id is not None and self.org_id == org_id


ANONYMOUS = Principal(role="anonymous")
