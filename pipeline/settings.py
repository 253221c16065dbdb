"""Settings built from a mapping (the environment, at the edge) and validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PLATFORM_DOMAINS = ("peermetals.com",)


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything PeerGuard reads from its environment, validated."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    email_url: str
    platform_domains: tuple[str, ...] = DEFAULT_PLATFORM_DOMAINS
    staff_email: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str], cwd: Path | None = None) -> Settings:
        """Build settings from ``env`` (usually ``os.environ``); raise SettingsError on bad values."""
        base = cwd or Path(".")
        data_dir = Path(env.get("PEERGUARD_DATA_DIR") or "var")
        if not data_dir.is_absolute():
            data_dir = (base / data_dir).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'peerguard.sqlite3'}"
        redis_url = env.get("REDIS_URL") or None
        email_url = env.get("EMAIL_URL") or (data_dir / "outbox").resolve().as_uri()
        settings = cls(
            data_dir=data_dir,
            database_url=_check_database_url(database_url),
            redis_url=_check_redis_url(redis_url),
            email_url=_check_email_url(email_url),
            platform_domains=_parse_domains(env.get("PEERGUARD_PLATFORM_DOMAINS")),
            staff_email=_check_staff_email(env.get("PEERGUARD_STAFF_EMAIL")),
            extra={k: v for k, v in env.items() if k.startswith("PEERGUARD_")},
        )
        return settings


def _check_database_url(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    if scheme.startswith("postgresql") or scheme.startswith("postgres"):
        if scheme in ("postgres", "postgresql"):
            # SQLAlchemy would pick psycopg2 for a bare scheme; we ship psycopg 3.
            return "postgresql+psycopg" + url[len(scheme):]
        return url
    if scheme.startswith("sqlite"):
        return url
    raise SettingsError(
        f"DATABASE_URL must be a postgresql://… or sqlite:///… URL, got scheme {scheme!r}"
    )


def _check_redis_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise SettingsError(f"REDIS_URL must look like redis://host:6379/0, got {url!r}")
    return url


def _check_email_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise SettingsError(f"EMAIL_URL needs a host: smtp://host:port, got {url!r}")
        try:
            _ = parts.port  # urlsplit checks the port only when it is read
        except ValueError as exc:
            raise SettingsError(f"EMAIL_URL has a bad port: {url!r}") from exc
        return url
    if parts.scheme == "file":
        if not parts.path:
            raise SettingsError(f"EMAIL_URL file:// needs a directory, got {url!r}")
        return url
    if parts.scheme == "memory":
        return url
    raise SettingsError(
        f"EMAIL_URL must start with smtp://, smtps:// or file:///, got {url!r}"
    )


def _parse_domains(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return DEFAULT_PLATFORM_DOMAINS
    domains = tuple(d.strip().lower().rstrip(".") for d in raw.split(",") if d.strip())
    for domain in domains:
        if "." not in domain or any(c.isspace() or c in "/@:" for c in domain):
            raise SettingsError(
                f"PEERGUARD_PLATFORM_DOMAINS must be comma-separated domains, got {domain!r}"
            )
    return domains


def _check_staff_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if "@" not in raw or any(c in raw for c in "\r\n <>"):
        raise SettingsError(f"PEERGUARD_STAFF_EMAIL must be a plain address, got {raw!r}")
    return raw.strip()
