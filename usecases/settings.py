"""Settings: read from the environment once, at the edge, into typed policy objects.

This is the only module that knows the environment variables' names (the README's table). Entry
points (the CLI, the web app, the Dramatiq worker processes) call ``Settings.from_environment``
once; everything below receives the typed ``Settings`` or one of its policies and never parses a
string again. A bad value raises ``SettingsError`` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pipeline.addresses import DEFAULT_PLATFORM_DOMAINS, InvalidAddress, parse_address, parse_domains
from pipeline.notices.identity import MailIdentity
from pipeline.notifications import NotificationPolicy
from pipeline.responses import ResponsePolicy
from pipeline.review import ReviewPolicy

# Re-exported: the part of the settings every command reads first lives in a light module of its own.
from usecases.environment import LOG_FORMATS, SettingsError, debug_requested, log_format  # noqa: F401

ENVIRONMENTS = ("production", "development")
T = TypeVar("T")


class DevelopmentKeyRefused(SettingsError):
    """A command that sends email would sign links with the published development key."""


@dataclass(frozen=True)
class TranscriptSigning:
    """How transcripts are signed: a PEM key and certificate, or one PKCS#12 file; an optional time stamp server."""

    key_path: Path
    cert_path: Path | None  # None when key_path is a PKCS#12 bundle holding both
    passphrase: bytes | None = None
    tsa_url: str | None = None

    @property
    def pkcs12(self) -> bool:
        """True when the key file is a PKCS#12 bundle (.p12 / .pfx)."""
        return self.key_path.suffix.lower() in (".p12", ".pfx")


@dataclass(frozen=True)
class Settings:
    """Everything PeerGuard reads from its environment, validated and typed."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    email_url: str
    mail: MailIdentity
    responses: ResponsePolicy = ResponsePolicy()
    review: ReviewPolicy = ReviewPolicy()
    notifications: NotificationPolicy = NotificationPolicy()
    platform_domains: tuple[str, ...] = DEFAULT_PLATFORM_DOMAINS
    staff_email: str | None = None
    environment: str = "production"
    secret_key_set: bool = False
    debug: bool = False
    transcript_signing: TranscriptSigning | None = None
    log_format: str = "text"
    # `run --once`'s scan stage: processes that run detection (1: this one alone; None: "auto", one
    # per core when the backlog is large enough to repay starting them, see ``scanning.scan_pending``)
    scan_processes: int | None = None

    @property
    def site(self) -> str:
        """The platform's own domain, which hosts every link PeerGuard writes."""
        return self.platform_domains[0]

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests, the demo)."""
        return replace(self, **changes)

    def require_production_key(self, command: str) -> None:
        """Refuse to send email signed with the development key outside development."""
        if not self.secret_key_set and self.environment != "development":
            raise DevelopmentKeyRefused(
                f"PEERGUARD_SECRET_KEY is not set: `{command}` would sign unsubscribe links with the published "
                "development key; set PEERGUARD_SECRET_KEY (or PEERGUARD_ENV=development for local use)"
            )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``); raise SettingsError on bad values."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("PEERGUARD_DATA_DIR") or "var")
        if not data_dir.is_absolute():
            data_dir = ((cwd or Path(".")) / data_dir).resolve()
        domains = _read(env, "PEERGUARD_PLATFORM_DOMAINS", parse_domains, None)
        secret = env.get("PEERGUARD_SECRET_KEY") or ""
        return cls(
            data_dir=data_dir,
            database_url=_database_url(env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'peerguard.sqlite3'}"),
            redis_url=_redis_url(env.get("REDIS_URL") or None),
            email_url=_email_url(env.get("EMAIL_URL") or (data_dir / "outbox").resolve().as_uri()),
            mail=_mail_identity(env, domains, secret),
            responses=_response_policy(env),
            review=_review_policy(env),
            notifications=_notification_policy(env),
            platform_domains=domains,
            staff_email=_optional_address(env, "PEERGUARD_STAFF_EMAIL"),
            environment=_environment(env.get("PEERGUARD_ENV")),
            secret_key_set=bool(secret),
            debug=bool(env.get("PEERGUARD_DEBUG")),
            transcript_signing=_transcript_signing(env),
            log_format=log_format(env),
            scan_processes=_read(env, "PEERGUARD_SCAN_PROCESSES", _processes, "auto"),
        )


def _transcript_signing(env: Mapping[str, str]) -> TranscriptSigning | None:
    """PEERGUARD_SIGNING_KEY / _CERT / _PASSPHRASE and PEERGUARD_TSA_URL; None when no key is set."""
    key, cert = env.get("PEERGUARD_SIGNING_KEY") or "", env.get("PEERGUARD_SIGNING_CERT") or ""
    tsa = env.get("PEERGUARD_TSA_URL") or None
    if not key:
        if cert or tsa:
            raise SettingsError("PEERGUARD_SIGNING_CERT and PEERGUARD_TSA_URL need PEERGUARD_SIGNING_KEY")
        return None
    signing = TranscriptSigning(Path(key), Path(cert) if cert else None,
                                (env.get("PEERGUARD_SIGNING_PASSPHRASE") or "").encode() or None, tsa)
    if not signing.pkcs12 and signing.cert_path is None:
        raise SettingsError("PEERGUARD_SIGNING_KEY is a PEM key: set PEERGUARD_SIGNING_CERT to its certificate "
                            "(or give a .p12/.pfx bundle)")
    for name, path in (("PEERGUARD_SIGNING_KEY", signing.key_path), ("PEERGUARD_SIGNING_CERT", signing.cert_path)):
        if path is not None and not path.is_file():
            raise SettingsError(f"{name}: no such file {path}")
    if tsa and not tsa.startswith(("http://", "https://")):
        raise SettingsError(f"PEERGUARD_TSA_URL must be an http(s) URL, not {tsa!r}")
    return signing


def _read(env: Mapping[str, str], name: str, parse: Callable[[Any], T], default: Any) -> T:
    """``parse(env[name])`` with any ValueError turned into a SettingsError naming ``name``."""
    raw = env.get(name)
    try:
        return parse(raw if raw is not None and raw.strip() else default)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc} (got {raw!r})") from None


def _environment(raw: str | None) -> str:
    value = (raw or "production").strip().lower()
    if value not in ENVIRONMENTS:
        raise SettingsError(f"PEERGUARD_ENV must be one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def _database_url(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgres", "postgresql"):
        # SQLAlchemy would pick psycopg2 for a bare scheme; we ship psycopg 3.
        return "postgresql+psycopg" + url[len(scheme):]
    if scheme.startswith("postgresql+") or scheme.startswith("sqlite"):
        return url
    raise SettingsError(f"DATABASE_URL must be a postgresql://… or sqlite:///… URL, got scheme {scheme!r}")


def _redis_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise SettingsError(f"REDIS_URL must look like redis://host:6379/0, got {url!r}")
    return url


def _email_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise SettingsError(f"EMAIL_URL needs a host: smtp://host:port, got {url!r}")
        try:
            _ = parts.port  # urlsplit checks the port only when it is read
        except ValueError as exc:
            raise SettingsError(f"EMAIL_URL has a bad port: {url!r}") from exc
        return url
    if parts.scheme == "file" and parts.path:
        return url
    if parts.scheme == "memory":
        return url
    raise SettingsError(f"EMAIL_URL must be smtp://host:port, smtps://host:port or file:///dir, got {url!r}")


def _optional_address(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    try:
        return str(parse_address(raw).addr_spec)
    except InvalidAddress:
        raise SettingsError(f"{name} must be a plain address, got {raw!r}") from None


def _mail_identity(env: Mapping[str, str], domains: tuple[str, ...], secret: str) -> MailIdentity:
    domain = domains[0]
    from_address = _optional_address(env, "PEERGUARD_EMAIL_FROM") or f"no-reply@{domain}"
    # Without a configured secret the unsubscribe links are still unique per user but forgeable;
    # commands that send email refuse that outside development (Settings.require_production_key).
    return MailIdentity(from_address, env.get("PEERGUARD_EMAIL_FROM_NAME") or "PeerMetals", domain,
                        secret or f"development-only:{domain}")


def _positive_int(raw: str | int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError("must be a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _processes(raw: str | int) -> int | None:
    """A number of processes, or None for "auto"."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return None
    try:
        return _positive_int(raw)
    except ValueError:
        raise ValueError("must be a whole number of at least 1, or auto") from None


def _minutes(raw: str | int) -> timedelta:
    return timedelta(minutes=_positive_int(raw))


def _quiet_hours(raw: str | None) -> tuple[time, time]:
    if raw is None:
        return ResponsePolicy.quiet_start, ResponsePolicy.quiet_end
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ValueError("must look like 22:00-07:00") from None
    return start, end


def _response_policy(env: Mapping[str, str]) -> ResponsePolicy:
    default = ResponsePolicy()
    start, end = _read(env, "PEERGUARD_QUIET_HOURS", _quiet_hours, None)
    values = dict(
        reminder_after=_read(env, "PEERGUARD_RESPONSE_REMINDER_MINUTES", _minutes, _in_minutes(default.reminder_after)),
        final_warning_after=_read(env, "PEERGUARD_RESPONSE_FINAL_WARNING_MINUTES", _minutes,
                                  _in_minutes(default.final_warning_after)),
        breach_after=_read(env, "PEERGUARD_RESPONSE_BREACH_MINUTES", _minutes, _in_minutes(default.breach_after)),
        quiet_start=start, quiet_end=end,
        stats_window=timedelta(days=_read(env, "PEERGUARD_RESPONSE_STATS_DAYS", _positive_int, default.stats_window.days)),
    )
    try:
        return ResponsePolicy(**values)
    except ValueError as exc:
        raise SettingsError(f"PEERGUARD_RESPONSE_*_MINUTES: {exc}") from None


def _in_minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


REVIEW_VARIABLES = {
    "window_days": "PEERGUARD_STRIKE_WINDOW_DAYS", "warn_at": "PEERGUARD_STRIKE_WARN_AT",
    "restrict_at": "PEERGUARD_STRIKE_RESTRICT_AT", "suspend_at": "PEERGUARD_STRIKE_SUSPEND_AT",
    "claim_minutes": "PEERGUARD_CLAIM_MINUTES",
}


def _review_policy(env: Mapping[str, str]) -> ReviewPolicy:
    default = ReviewPolicy()
    return ReviewPolicy(**{field: _read(env, name, _positive_int, getattr(default, field))
                           for field, name in REVIEW_VARIABLES.items()})


def _notification_policy(env: Mapping[str, str]) -> NotificationPolicy:
    default = NotificationPolicy()
    return NotificationPolicy(
        delay=_read(env, "PEERGUARD_NEW_MESSAGE_DELAY", _minutes, _in_minutes(default.delay)),
        repeat=_read(env, "PEERGUARD_NEW_MESSAGE_REPEAT", _minutes, _in_minutes(default.repeat)),
    )
