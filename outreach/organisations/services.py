"""Organisations: firms, schools, partners and the network office."""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.audit.services import record
from outreach.db import write_transaction
from outreach.errors import Conflict, Forbidden, Invalid, NotFound
from outreach.organisations.tables import ORG_KINDS, Organisation
from outreach.principal import Principal

__all__ = [
    "OrganisationIn",
    "create_organisation",
    "get_by_slug",
    "get_organisation",
    "list_organisations",
]

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True)
class OrganisationIn:
    kind: str
    slug: str
    name: str
    school_type: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    lat: float | None = None
    lon: float | None = None
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    website: str = ""


def validate_slug(slug: str, *, field: str = "slug") -> str:
    if not _SLUG.match(slug):
        raise Invalid.because("slug_format", field=field, max=64)
    return slug


async def create_organisation(data: OrganisationIn, *, by: Principal | None = None) -> Organisation:
    """Create an organisation; `by=None` is the command line run by the operator."""
    if by is not None and not by.is_admin:
        raise Forbidden("only the network office creates organisations")
    if data.kind not in ORG_KINDS:
        raise Invalid.because("not_one_of", field="kind", choices=tuple(ORG_KINDS))
    validate_slug(data.slug)
    if not data.name.strip():
        raise Invalid("name must not be empty", field="name")
    if data.lat is not None and not -90 <= data.lat <= 90:
        raise Invalid.because("out_of_range", field="lat", min=-90, max=90)
    if data.lon is not None and not -180 <= data.lon <= 180:
        raise Invalid.because("out_of_range", field="lon", min=-180, max=180)
    async with write_transaction():
        if await Organisation.exists().where(Organisation.slug == data.slug):
            raise Conflict.because("slug_taken", field="slug", slug=data.slug)
        org = Organisation(**{**data.__dict__, "name": data.name.strip()})
        await org.save()
        await record(
            "organisation.create",
            by=by,
            object_type="organisation",
            object_id=org.id,
            detail={"kind": org.kind, "slug": org.slug},
        )
    return org


async def get_by_slug(slug: str, *, field: str = "host") -> Organisation:
    org = await Organisation.objects().where(Organisation.slug == slug).first()
    if org is None:
        raise NotFound(f"no organisation with slug {slug!r}", field=field)
    return org


async def get_organisation(org_id: int) -> Organisation:
    org = await Organisation.objects().where(Organisation.id == org_id).first()
    if org is None:
        raise NotFound(f"no organisation {org_id}")
    return org


async def list_organisations(kind: str | None = None) -> list[Organisation]:
    """Organisations by name (public facts: names, addresses), optionally of one kind."""
    query = Organisation.objects().order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return await query
