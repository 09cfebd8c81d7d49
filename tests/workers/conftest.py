"""The worker tests share the notification tests' fixtures."""

from tests.notifications.fixtures import (  # noqa: F401 (fixtures)
    _no_dispatcher,
    mail_settings,
    smtp_settings,
    smtp_sink,
)
