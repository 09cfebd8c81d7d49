"""The ASGI application object for servers: `uvicorn outreach.asgi:app`."""

from outreach.app import create_app

app = create_app()
