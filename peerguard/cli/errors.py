"""Exceptions to one-line errors, with the exit status chosen by the exception's class.

====  ================================================================================
 1    any other failure (PEERGUARD_DEBUG=1 shows the traceback)
 2    bad usage or configuration, unknown conversation, order or message, unknown outcome
 3    no such review item or strike
 4    the item is already resolved / the strike already overturned
 5    the item is claimed by another reviewer
 6    the acting (or named) email is not a staff member
 7    the item changed meanwhile (optimistic-locking conflict)
====  ================================================================================
"""

from __future__ import annotations

import click

from usecases.environment import SettingsError, debug_requested


class PeerGuardUsageError(click.ClickException):
    """A one-line error with a chosen exit status."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_codes() -> dict[type[BaseException], int]:
    """The exit status of each refusal a use case may raise (imported lazily: --help stays fast)."""
    from storage.transcripts import ConversationNotFound
    from usecases.review import AlreadyResolved, ClaimedByOther, ItemNotFound, NotStaff, UnknownOutcome, VersionConflict
    from usecases.staff import NotStaffMember, UnknownRole, WeakPassword

    return {
        SettingsError: 2, UnknownOutcome: 2, ConversationNotFound: 2, UnknownRole: 2, WeakPassword: 2, NotStaffMember: 6,
        ItemNotFound: 3, AlreadyResolved: 4, ClaimedByOther: 5, NotStaff: 6, VersionConflict: 7,
    }


def exit_code_for(exc: BaseException) -> int | None:
    """The chosen exit status of ``exc``'s class (or a base class), None when it has none."""
    codes = exit_codes()
    for cls in type(exc).__mro__:
        if cls in codes:
            return codes[cls]
    return None


def one_line_error(exc: Exception) -> click.ClickException:
    """``exc`` as a one-line error; unexpected ones name their class (or re-raise under PEERGUARD_DEBUG)."""
    code = exit_code_for(exc)
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    if code is not None:
        return PeerGuardUsageError(first or type(exc).__name__, exit_code=code)
    if debug_requested():
        raise exc
    return PeerGuardUsageError(f"{type(exc).__name__}: {first}")
