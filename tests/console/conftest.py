"""The console tests' usual cast: a marketplace (staff, buyer, seller) and two moderators with passwords."""

from __future__ import annotations

import pytest

from storage.db import transaction
from tests.console.cast import NOW, PASSWORD
from tests.review.factories import Marketplace
from usecases import staff


@pytest.fixture
def market(app):
    with transaction(app.session_factory) as session:
        market = Marketplace(session)
        staff.add_account(session, "ana@peermetals.com", "moderator", NOW, password=PASSWORD)
        staff.add_account(session, "bo@peermetals.com", "moderator", NOW, password=PASSWORD)
        return market
