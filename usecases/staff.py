"""Staff accounts, console roles, sign-in, sessions and the audit log.

Passwords are kept as argon2id hashes. A session is a random token in a cookie; only its
SHA-256 is stored, with a CSRF token bound to it. A session ends after ``IDLE`` without a
request or ``ABSOLUTE`` after sign-in, whichever comes first. Failed sign-ins are counted per
account and per address; past the limit, sign-in is refused (even with the right password)
until the window has passed. Every sign-in, reveal, decision, overturn, role change and
transcript download is written to the append-only audit log in the action's transaction.

Staff made by an import line (``"role": "staff"``) get no console role: the marketplace says who
is staff, but console access is granted here, by someone accountable and in the audit log. Such
a member shows in ``staff list`` with no role; ``set-role`` (or ``add``) gives them one, and
``password`` refuses until then rather than granting a role on the side.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage import console as store
from storage import review as review_store
from storage.console import AccountRow, AuditRow
from storage.db import Session, transaction
from storage.models.console import CONSOLE_ROLES
from usecases import review
from usecases.app import App

ROLES = CONSOLE_ROLES
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
# A session's last-seen time is written at most this often: one write per page view would cost
# a commit each, and the idle limit only ever ends a session this much early, never late.
TOUCH_EVERY = timedelta(minutes=1)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 12

# Which console areas each role may use; admin may use every one.
AREAS = {"queue": ("moderator", "admin"), "conversations": ("disputes", "admin"), "admin": ("admin",),
         "dashboards": ("moderator", "disputes", "admin")}

_hasher = PasswordHasher()
# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class StaffError(Exception):
    """A staff-account action refused; nothing was changed."""


class UnknownRole(StaffError):
    """The role is not moderator, disputes or admin."""


class NotStaffMember(StaffError):
    """No staff member has this email."""


class NoConsoleRole(NotStaffMember):
    """A staff member without a console role yet (made staff by an import line): give one with set-role first."""


class WeakPassword(StaffError):
    """The password is too short."""


class SignInRefused(StaffError):
    """Wrong email or password (deliberately not saying which)."""


class TooManyAttempts(StaffError):
    """Too many failed sign-ins for this account or from this address; try again later."""


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of one request."""

    user_id: int
    external_id: str
    name: str
    email: str
    role: str
    session_id: int
    csrf_token: str

    def may(self, area: str) -> bool:
        return self.role in AREAS[area]


def may(role: str | None, area: str) -> bool:
    """True when ``role`` may use the console ``area`` (queue, conversations, admin)."""
    return role in AREAS.get(area, ())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def _hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def audit(session: Session, now: datetime, actor: str, action: str, subject: str | None = None, *,
          detail: dict[str, Any] | None = None, sha256: str | None = None, address: str | None = None,
          note: str | None = None) -> None:
    """Append one line to the audit log, in the caller's transaction."""
    store.add_audit(session, now, actor, action, subject, detail, sha256, address, note)


# --- Accounts (the CLI and the admin page) -----------------------------------------------------


def add_account(session: Session, email: str, role: str, now: datetime, name: str | None = None,
                password: str | None = None, actor: str = "cli") -> tuple[AccountRow, bool]:
    """Make the user(s) with this email staff with a console role (and password); True if a user was created."""
    _check_role(role)
    password_hash = _hash_password(password) if password is not None else None
    person, created = review.add_staff(session, email, name, now)
    existing = store.account_by_user(session, person.id)
    store.save_account(session, person.id, role, password_hash, now)
    if existing is None or existing.role != role:
        audit(session, now, actor, "role_change", f"staff {person.email}",
              detail={"from": existing.role if existing else None, "to": role})
    if password_hash is not None:
        audit(session, now, actor, "password_set", f"staff {person.email}")
    return store.account_by_user(session, person.id), created


def list_accounts(session: Session) -> list[AccountRow]:
    return store.list_accounts(session)


def _account(session: Session, email: str) -> AccountRow:
    account = store.account_by_email(session, email)
    if account is None:
        by_id = store.account_by_external_id(session, email)
        if by_id is not None and not by_id.email:
            # Sign-in is by email, so a role would give nobody access; say what is missing.
            raise NotStaffMember(f"staff member {email} has no email address, so they cannot sign in; "
                                 "import their user line with an email first")
        raise NotStaffMember(f"{email} is not a staff member (see `peerguard staff list`)")
    return account


def set_role(session: Session, email: str, role: str, now: datetime, actor: str = "cli", address: str | None = None) -> AccountRow:
    """Change a staff member's console role; audited."""
    _check_role(role)
    account = _account(session, email)
    store.save_account(session, account.user_id, role, None, now)
    audit(session, now, actor, "role_change", f"staff {account.email}", detail={"from": account.role, "to": role}, address=address)
    return store.account_by_user(session, account.user_id)


def set_password(session: Session, email: str, password: str, now: datetime, actor: str = "cli") -> None:
    """Set a staff member's password; their sessions end. Never grants a role: see ``NoConsoleRole``."""
    account = _account(session, email)
    if account.role is None:
        raise NoConsoleRole(f"{account.email} is staff (from an import) but has no console role yet; "
                            f"give one first: peerguard staff set-role {account.email} moderator|disputes|admin")
    store.save_account(session, account.user_id, account.role, _hash_password(password), now)
    store.end_sessions_of(session, account.user_id, now)
    audit(session, now, actor, "password_set", f"staff {account.email}")


def remove_account(session: Session, email: str, now: datetime, actor: str = "cli") -> AccountRow:
    """Take the staff role and console account away; their sessions end at once. Audited as a role change."""
    account = _account(session, email)
    for user in review_store.users_with_email(session, email):
        if user.role == "staff":
            review_store.set_role(session, user.id, "member")
    store.delete_account(session, account.user_id)
    store.end_sessions_of(session, account.user_id, now)
    audit(session, now, actor, "role_change", f"staff {account.email}", detail={"from": account.role, "to": None})
    return account


# --- Sign-in and sessions ----------------------------------------------------------------------


def sign_in(app: App, email: str, password: str, address: str, now: datetime) -> tuple[str, Staff]:
    """A new session token for the right email and password; TooManyAttempts or SignInRefused otherwise."""
    email = email.strip()
    with transaction(app.session_factory) as session:
        since = now - FAILURE_WINDOW
        if (store.failures_since(session, since, email=email) >= MAX_FAILURES_PER_ACCOUNT
                or store.failures_since(session, since, address=address) >= MAX_FAILURES_PER_ADDRESS):
            audit(session, now, email[:320] or "-", "sign_in_blocked", address=address)
            blocked = True
        else:
            blocked = False
            account = store.account_by_email(session, email) if email else None
            ok = _verify(account.password_hash if account and account.role else None, password)
            store.add_attempt(session, email, address, now, ok)
            if ok:
                token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                store.insert_session(session, _digest(token), account.user_id, csrf, now, address)
                if _hasher.check_needs_rehash(account.password_hash):
                    store.save_account(session, account.user_id, account.role, _hasher.hash(password), now)
                audit(session, now, account.email, "sign_in", address=address)
                live = store.session_by_token(session, _digest(token))
                return token, Staff(account.user_id, account.external_id, account.name, account.email, account.role,
                                    live.id, csrf)
            audit(session, now, email[:320] or "-", "sign_in_failed", address=address)
    if blocked:
        raise TooManyAttempts(f"too many failed sign-ins; try again in {FAILURE_WINDOW.seconds // 60} minutes")
    raise SignInRefused("wrong email or password")


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(app: App, token: str, now: datetime) -> Staff | None:
    """The staff member of a live session (and the session kept alive), or None."""
    if not token or len(token) > 200:
        return None
    with transaction(app.session_factory) as session:
        live = store.session_by_token(session, _digest(token))
        if live is None or live.ended_at is not None:
            return None
        if now - live.last_seen_at > IDLE or now - live.created_at > ABSOLUTE:
            store.end_session(session, live.id, now)
            return None
        account = store.account_by_user(session, live.user_id)
        if account is None or account.role is None:
            store.end_session(session, live.id, now)
            return None
        if now - live.last_seen_at >= TOUCH_EVERY:
            store.touch_session(session, live.id, now)
        return Staff(account.user_id, account.external_id, account.name, account.email or account.external_id,
                     account.role, live.id, live.csrf_token)


def sign_out(app: App, staff: Staff, now: datetime) -> None:
    with transaction(app.session_factory) as session:
        store.end_session(session, staff.session_id, now)
        audit(session, now, staff.email, "sign_out")


def csrf_matches(staff: Staff, submitted: str | None) -> bool:
    """True when the form carried this session's CSRF token."""
    return bool(submitted) and secrets.compare_digest(staff.csrf_token, submitted)


def audit_log(app: App, limit: int = 200, action: str | None = None, actor: str | None = None) -> list[AuditRow]:
    with app.session_factory() as session:
        return store.audit_rows(session, limit, action or None, actor or None)


def accounts(app: App) -> list[AccountRow]:
    with app.session_factory() as session:
        return store.list_accounts(session)


def change_role(app: App, staff: Staff, email: str, role: str, now: datetime, address: str | None = None) -> AccountRow:
    """An admin changes another staff member's role (never their own); audited."""
    if email.strip().lower() == staff.email.strip().lower():
        raise StaffError("you cannot change your own role; ask another admin")
    with transaction(app.session_factory) as session:
        return set_role(session, email, role, now, staff.email, address)
