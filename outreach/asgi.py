"""The ASGI application object for servers: `uvicorn outreach.asgi:app`."""

from outreach.app import create_app
from outreach.config import get_settings
from outreach.observability import setup_logging

# Server processes started by uvicorn's or granian's supervisor log like the CLI.
setup_logging(get_settings().log_format)
app = create_app()
