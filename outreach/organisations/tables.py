from __future__ import annotations

from piccolo.columns import Float, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

ORG_KINDS = ("firm", "school", "partner", "network")


class Organisation(Table, tablename="organisation"):
    """A member firm, a school, a partner (chamber, agency) or the network office itself."""

    slug = Varchar(length=64, unique=True, index=True)
    name = Varchar(length=200)
    kind = Varchar(length=16, index=True)
    school_type = Varchar(length=64, default="")  # Oberschule, Gymnasium, ... (schools only)
    street = Varchar(length=200, default="")
    postal_code = Varchar(length=16, default="")
    city = Varchar(length=100, default="")
    lat = Float(null=True, default=None)
    lon = Float(null=True, default=None)
    contact_name = Varchar(length=200, default="")
    contact_email = Varchar(length=254, default="")
    contact_phone = Varchar(length=64, default="")
    website = Varchar(length=254, default="")
    created_at = Timestamptz(default=TimestamptzNow())
