"""Migration 0012 on SQLite and PostgreSQL: downgrade drops attachment findings (and their signals) only."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import inspect

from storage import migrations
from storage.db import make_engine
from tests.attachments import files
from tests.attachments.test_stage import NOW, load
from usecases.attachment_scanning import scan_pending
from usecases.scanning import scan_pending as scan_messages


def test_downgrade_removes_attachment_findings_and_keeps_message_findings(app, db_url, tmp_path):
    load(app, tmp_path, {"card.jpg": files.text_image(["call me 602 555 0148"])}, text="or zelle me at jo.silver@gmail.com")
    scan_pending(app, NOW)
    scan_messages(app, NOW)
    app.engine.dispose()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            scopes = [row[0] for row in conn.execute(sa.text("SELECT scope FROM contact_findings"))]
            kept_signals = conn.execute(sa.text("SELECT count(*) FROM review_signals s JOIN contact_findings f "
                                                "ON f.id = s.finding_id WHERE f.scope <> 'attachment'")).scalar()
        assert "attachment" in scopes and "message" in scopes and kept_signals > 0

        migrations.downgrade(db_url, "0011")
        with engine.connect() as conn:
            assert "attachment_scans" not in inspect(conn).get_table_names()
            assert not {"attachment_sha256", "page", "region"} & {c["name"] for c in inspect(conn).get_columns("contact_findings")}
            left = [row[0] for row in conn.execute(sa.text("SELECT scope FROM contact_findings"))]
            signals = conn.execute(sa.text("SELECT count(*) FROM review_signals s LEFT JOIN contact_findings f "
                                           "ON f.id = s.finding_id WHERE f.id IS NULL")).scalar()
        assert left == [s for s in scopes if s != "attachment"]
        assert signals == 0
        with engine.connect() as conn:  # SQLite's table rebuild must not cascade away the other signals
            assert conn.execute(sa.text("SELECT count(*) FROM review_signals")).scalar() == kept_signals

        migrations.upgrade(db_url)
        assert migrations.is_current(db_url)
    finally:
        engine.dispose()
