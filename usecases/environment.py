"""The settings every command reads before anything else: the log format and the debug switch.

Part of ``usecases.settings`` (which re-exports all of this), kept in a module of its own so
that reading them costs no more than importing ``os``: the command line reads the log format
for every command, and importing the full settings (the notice, notification, response and
review policies, the e-mail address parser) was a quarter of ``peerguard scan``'s start-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


LOG_FORMATS = ("text", "json")


def log_format(env: Mapping[str, str] | None = None) -> str:
    """PEERGUARD_LOG_FORMAT: ``text`` (default, for a terminal) or ``json`` (one object per line)."""
    value = ((os.environ if env is None else env).get("PEERGUARD_LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise SettingsError(f"PEERGUARD_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def debug_requested(env: Mapping[str, str] | None = None) -> bool:
    """PEERGUARD_DEBUG, readable even when other settings are broken (it decides how errors are shown)."""
    return bool((os.environ if env is None else env).get("PEERGUARD_DEBUG"))
