"""Constants the console tests share with their ``market`` fixture (tests/console/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

from tests.review.factories import T0

NOW = T0 + timedelta(hours=1)
PASSWORD = "correct horse battery staple"
