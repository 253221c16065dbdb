"""Staff identities from the interchange file: "role" on user lines, never demoted by omission."""

import json

import pytest
from sqlalchemy import select

from pipeline.interchange import InterchangeError, UserRecord, parse_line
from storage.models import User
from usecases.importing import InterchangeImporter


def test_role_is_parsed_and_checked():
    line = {"type": "user", "id": "u-9", "name": "Ana", "email": "ana@peermetals.com", "role": "staff"}
    assert parse_line(json.dumps(line)) == UserRecord("u-9", "Ana", "ana@peermetals.com", "UTC", False, "staff")
    assert parse_line(json.dumps(line | {"role": None})).role is None
    with pytest.raises(InterchangeError, match="'role' must be one of member, staff"):
        parse_line(json.dumps(line | {"role": "admin"}))


def test_import_sets_the_role_and_a_line_without_role_keeps_it(app, tmp_path):
    importer = InterchangeImporter(app.session_factory, app.blobs, tmp_path)
    staff = {"type": "user", "id": "u-9", "name": "Ana", "email": "ana@peermetals.com", "role": "staff"}
    member = {"type": "user", "id": "u-10", "name": "Greg"}
    lines = [json.dumps(staff).encode(), json.dumps(member).encode()]
    assert [o.status for o in importer.import_lines(lines)] == ["created", "created"]
    without_role = {k: v for k, v in staff.items() if k != "role"}
    assert [o.status for o in importer.import_lines([json.dumps(without_role).encode()])] == ["unchanged"]
    with app.session_factory() as session:
        roles = dict(session.execute(select(User.external_id, User.role)).all())
    assert roles == {"u-9": "staff", "u-10": "member"}
