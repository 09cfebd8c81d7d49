"""Settings, read once from the environment into a frozen dataclass.

Every variable has a safe default so that `outreach serve` on a fresh machine gives a
working system: a SQLite file, an in-process worker and mails written as files.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "Settings", "get_settings", "set_settings"]


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float, minimum: float, maximum: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must lie between {minimum} and {maximum}, got {value}")
    return value


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int_list(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError:
        raise ConfigError(
            f"{name} must be a comma-separated list of numbers, got {raw!r}"
        ) from None


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
    # Session and CSRF cookies: Secure when None and BASE_URL is https, else as set.
    cookie_secure: bool | None = None
    db_pool_max: int = 10
    embedded_worker: bool = True
    scheduler_interval: int = 15
    rate_limit_per_minute: int = 30
    max_body_bytes: int = 1_000_000
    broker_namespace: str = "outreach"
    # Class day planner: straight-line distance x detour factor at these speeds, plus
    # a buffer per leg (gathering the class, crossing roads, boarding the bus).
    planner_walk_kmh: float = 4.5
    planner_bus_kmh: float = 30.0
    planner_detour_factor: float = 1.3
    planner_buffer_minutes: int = 10

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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("OUTREACH_DATA_DIR") or "./var").resolve()
        database_url = env.get("DATABASE_URL") or None
        if database_url and not database_url.startswith(("postgres://", "postgresql://")):
            raise ConfigError(
                "DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:port/db); "
                "leave it unset for the embedded SQLite database"
            )
        redis_url = env.get("REDIS_URL") or None
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        smtp_url = env.get("SMTP_URL") or None
        if smtp_url and not smtp_url.startswith(("smtp://", "smtps://")):
            raise ConfigError("SMTP_URL must start with smtp:// or smtps://")
        base_url = (env.get("BASE_URL") or "http://127.0.0.1:8000").rstrip("/")
        secret_key = env.get("SECRET_KEY") or _embedded_secret(data_dir, database_url)
        if len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            smtp_url=smtp_url,
            base_url=base_url,
            secret_key=secret_key,
            mail_from=env.get("MAIL_FROM") or "outreach <noreply@outreach.invalid>",
            booking_closes_hours=_int(env, "BOOKING_CLOSES_HOURS", 48),
            reminder_days=_int_list(env, "REMINDER_DAYS", (7, 1)),
            anonymise_after_days=_int(env, "ANONYMISE_AFTER_DAYS", 365, minimum=1),
            registration_confirm_hours=_int(env, "REGISTRATION_CONFIRM_HOURS", 24, minimum=1),
            cookie_secure=_flag(env, "COOKIE_SECURE", False) if env.get("COOKIE_SECURE") else None,
            db_pool_max=_int(env, "DB_POOL_MAX", 10, minimum=1),
            embedded_worker=redis_url is None and _flag(env, "EMBEDDED_WORKER", True),
            scheduler_interval=_int(env, "SCHEDULER_INTERVAL", 15, minimum=1),
            rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", 30),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1_000_000, minimum=1024),
            broker_namespace=env.get("OUTREACH_BROKER_NAMESPACE") or "outreach",
            planner_walk_kmh=_float(env, "PLANNER_WALK_KMH", 4.5, 0.5, 15),
            planner_bus_kmh=_float(env, "PLANNER_BUS_KMH", 30.0, 5, 120),
            planner_detour_factor=_float(env, "PLANNER_DETOUR_FACTOR", 1.3, 1, 5),
            planner_buffer_minutes=_int(env, "PLANNER_BUFFER_MINUTES", 10),
        )


def _embedded_secret(data_dir: Path, database_url: str | None) -> str:
    """Production must set SECRET_KEY; the embedded default keeps a random one in the data dir."""
    if database_url:
        raise ConfigError("SECRET_KEY must be set when DATABASE_URL is set (production)")
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
