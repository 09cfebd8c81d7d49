"""Piccolo's configuration module: the engine comes from outreach's settings."""

from piccolo.conf.apps import AppRegistry

from outreach.config import get_settings
from outreach.db import make_engine

DB = make_engine(get_settings())

APP_REGISTRY = AppRegistry(apps=["outreach.piccolo_app"])
