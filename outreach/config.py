"""Settings, read once from the environment into a frozen dataclass.

Every variable has a safe default so that `outreach serve` on a fresh machine gives a
working system: a SQLite file, an in-process worker and mails written as files.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["ConfigError", "Settings", "get_settings", "local_base_url", "set_settings"]

LOG_FORMATS = ("json", "text")


class ConfigError(ValueError):
    """Settings we cannot use; the message names each variable, `problems` lists them."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class _Reader:
    """Reads variables, noting every problem instead of stopping at the first one."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int = 10**9) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name} must lie between {minimum} and {maximum}, got {value}")
            return default
        return value

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a number, got {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name} must lie between {minimum} and {maximum}, got {value}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.raw(name) or "").lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    def int_list(self, name: str, default: tuple[int, ...], maximum: int) -> tuple[int, ...]:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            values = {int(part) for part in raw.split(",") if part.strip()}
        except ValueError:
            self.problems.append(f"{name} must be a comma-separated list of numbers, got {raw!r}")
            return default
        if any(not 0 <= v <= maximum for v in values):
            self.problems.append(f"{name} values must lie between 0 and {maximum}, got {raw!r}")
            return default
        return tuple(sorted(values, reverse=True))

    def url(self, name: str, schemes: tuple[str, ...], hint: str) -> str | None:
        """A URL with one of `schemes` and a host (unix:// needs a path instead)."""
        raw = self.raw(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes:
            self.problems.append(
                f"{name} must start with {' or '.join(s + '://' for s in schemes)}"
                f" ({hint}), got scheme {parts.scheme or 'none'!r}"
            )
            return None
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            self.problems.append(f"{name} has a port that is not a number between 0 and 65535")
            return None
        if parts.scheme != "unix" and not parts.hostname:
            self.problems.append(f"{name} must name a host ({hint})")
            return None
        if parts.scheme == "unix" and not parts.path:
            self.problems.append(f"{name} must name a socket path ({hint})")
            return None
        return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None
    redis_url: str | None
    smtp_url: str | None
    base_url: str
    secret_key: str
    mail_from: str
    timezone: str = "Europe/Berlin"
    booking_closes_hours: int = 48
    reminder_days: tuple[int, ...] = (7, 1)
    anonymise_after_days: int = 365
    # A public registration is held this long for the registrant to confirm the address.
    registration_confirm_hours: int = 24
    # Registrations whose address is not confirmed yet hold at most this share of a
    # slot's places together; the others wait, holding nothing, until confirmed.
    unconfirmed_share_percent: int = 25
    # Session and CSRF cookies: Secure when None and BASE_URL is https, else as set.
    cookie_secure: bool | None = None
    db_pool_max: int = 10
    embedded_worker: bool = True
    scheduler_interval: int = 15
    rate_limit_per_minute: int = 30
    max_body_bytes: int = 1_000_000
    # Peers (IP addresses or networks, or "*") whose X-Forwarded-For/-Proto is believed;
    # from anyone else the headers are ignored and the connecting address is the client.
    trusted_proxies: tuple[str, ...] = ()
    # A page session ends this many hours after sign-in, however busy (absolute lifetime).
    session_hours: int = 12
    broker_namespace: str = "outreach"
    # Outbox: how long a worker's claim on a notice lasts (a killed worker's notices are
    # taken again after it), and the first retry delay after a failed send (doubling).
    notification_lease_seconds: int = 300
    notification_retry_seconds: int = 30
    # Class day planner: straight-line distance x detour factor at these speeds, plus
    # a buffer per leg (gathering the class, crossing roads, boarding the bus).
    planner_walk_kmh: float = 4.5
    planner_bus_kmh: float = 30.0
    planner_detour_factor: float = 1.3
    planner_buffer_minutes: int = 10
    # Bearer token for /metrics; without it only loopback clients may read them.
    metrics_token: str | None = None
    # json: one object per line (production); text: for a person at a terminal; None
    # (LOG_FORMAT unset): text when stderr is a terminal, else json (`setup_logging`).
    log_format: str | None = None
    # BASE_URL was given; without it, a server's links point where it listens (`serving_at`).
    base_url_given: bool = True
    # On SIGTERM: seconds of answering "not ready" before the server stops taking requests.
    shutdown_drain_seconds: float = 0.0
    # How long a server process keeps what the anonymous calendar and event pages show
    # (their data and their rendered content; 0: not at all).
    page_cache_seconds: float = 1.0

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "outreach.sqlite3"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS: by BASE_URL unless COOKIE_SECURE says otherwise."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.base_url.startswith("https://")

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    def serving_at(self, host: str, port: int) -> Settings:
        """The settings of a server listening on `host:port`: without BASE_URL, the links in
        mails, feeds and pages point there instead of the default port."""
        if self.base_url_given:
            return self
        return replace(self, base_url=local_base_url(host, port))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read and check every variable; ConfigError lists all problems at once."""
        read = _Reader(dict(os.environ if env is None else env))
        data_dir = Path(read.raw("OUTREACH_DATA_DIR") or "./var").resolve()
        database_url = read.url(
            "DATABASE_URL",
            ("postgres", "postgresql"),
            "postgresql://user@host:port/db; leave it unset for the embedded SQLite database",
        )
        if read.raw("DATABASE_URL") and database_url is None:
            database_url = read.raw("DATABASE_URL")  # reported; keeps the SECRET_KEY check
        redis_url = read.url(
            "REDIS_URL", ("redis", "rediss", "unix"), "e.g. redis://127.0.0.1:6379/0"
        )
        smtp_url = read.url("SMTP_URL", ("smtp", "smtps"), "e.g. smtp://user:pass@mail:587")
        base_url = (read.raw("BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
        base = urlsplit(base_url)
        if base.scheme not in ("http", "https") or not base.hostname:
            read.problems.append(
                f"BASE_URL must be an http:// or https:// address with a host, got {base_url!r}"
            )
        secret_key = read.raw("SECRET_KEY")
        if secret_key is None:
            if database_url:
                read.problems.append(
                    "SECRET_KEY must be set when DATABASE_URL is set (production): "
                    "32 or more random characters"
                )
                secret_key = ""
            else:
                secret_key = _embedded_secret(data_dir)
        elif len(secret_key) < 32:
            read.problems.append(
                f"SECRET_KEY must be at least 32 characters long, got {len(secret_key)}"
            )
        metrics_token = read.raw("METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < 24:
            read.problems.append("METRICS_TOKEN must be at least 24 characters long")
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            smtp_url=smtp_url,
            base_url=base_url,
            secret_key=secret_key,
            mail_from=read.raw("MAIL_FROM") or "outreach <noreply@outreach.invalid>",
            booking_closes_hours=read.integer("BOOKING_CLOSES_HOURS", 48, maximum=24 * 365),
            reminder_days=read.int_list("REMINDER_DAYS", (7, 1), maximum=365),
            anonymise_after_days=read.integer("ANONYMISE_AFTER_DAYS", 365, minimum=1, maximum=3650),
            registration_confirm_hours=read.integer(
                "REGISTRATION_CONFIRM_HOURS", 24, minimum=1, maximum=24 * 30
            ),
            unconfirmed_share_percent=read.integer(
                "UNCONFIRMED_SHARE_PERCENT", 25, minimum=0, maximum=100
            ),
            cookie_secure=read.flag("COOKIE_SECURE", False) if read.raw("COOKIE_SECURE") else None,
            db_pool_max=read.integer("DB_POOL_MAX", 10, minimum=1, maximum=500),
            embedded_worker=redis_url is None and read.flag("EMBEDDED_WORKER", True),
            scheduler_interval=read.integer("SCHEDULER_INTERVAL", 15, minimum=1, maximum=3600),
            rate_limit_per_minute=read.integer("RATE_LIMIT_PER_MINUTE", 30, maximum=1_000_000),
            max_body_bytes=read.integer(
                "MAX_BODY_BYTES", 1_000_000, minimum=1024, maximum=100_000_000
            ),
            trusted_proxies=_trusted_proxies(read),
            session_hours=read.integer("SESSION_HOURS", 12, minimum=1, maximum=24 * 30),
            broker_namespace=read.raw("OUTREACH_BROKER_NAMESPACE") or "outreach",
            notification_lease_seconds=read.integer(
                "NOTIFICATION_LEASE_SECONDS", 300, minimum=1, maximum=86_400
            ),
            notification_retry_seconds=read.integer(
                "NOTIFICATION_RETRY_SECONDS", 30, minimum=1, maximum=86_400
            ),
            planner_walk_kmh=read.number("PLANNER_WALK_KMH", 4.5, 0.5, 15),
            planner_bus_kmh=read.number("PLANNER_BUS_KMH", 30.0, 5, 120),
            planner_detour_factor=read.number("PLANNER_DETOUR_FACTOR", 1.3, 1, 5),
            planner_buffer_minutes=read.integer("PLANNER_BUFFER_MINUTES", 10, maximum=240),
            metrics_token=metrics_token,
            log_format=read.raw("LOG_FORMAT"),
            base_url_given=read.raw("BASE_URL") is not None,
            shutdown_drain_seconds=read.number("SHUTDOWN_DRAIN_SECONDS", 0.0, 0, 60),
            page_cache_seconds=read.number("PAGE_CACHE_SECONDS", 1.0, 0, 60),
        )
        if settings.log_format not in (None, *LOG_FORMATS):
            read.problems.append(f"LOG_FORMAT must be json or text, got {settings.log_format!r}")
        if read.problems:
            raise ConfigError(read.problems)
        return settings


def local_base_url(host: str, port: int) -> str:
    """The address a browser on this machine reaches a server listening on `host:port` at:
    a wildcard address (all interfaces) is reached through loopback."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (reading an address, not binding it)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address in a URL
    return f"http://{host}:{port}"


def _trusted_proxies(read: _Reader) -> tuple[str, ...]:
    entries = tuple(e.strip() for e in (read.raw("TRUSTED_PROXIES") or "").split(",") if e.strip())
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            read.problems.append(
                f"TRUSTED_PROXIES must list IP addresses or networks (or *), got {entry!r}"
            )
    return entries


def _embedded_secret(data_dir: Path) -> str:
    """The embedded default keeps a random key in the data dir (production sets SECRET_KEY)."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def set_settings(value: Settings | None) -> None:
    """Replace the settings (tests), or forget them so the next call reads the environment."""
    global _current
    _current = value
