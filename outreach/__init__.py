"""outreach: schedules school outreach for a regional network of firms."""

import os

# Piccolo finds its engine through this module; set before any table is touched.
os.environ.setdefault("PICCOLO_CONF", "outreach.piccolo_conf")

__version__ = "0.1.0"
