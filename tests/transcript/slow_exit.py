"""Preloaded into the fork server by test_pool: a clean exit of that server then takes seconds."""

from __future__ import annotations

import atexit
import time

atexit.register(time.sleep, 4)
