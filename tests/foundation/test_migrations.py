from sqlalchemy import inspect

from storage import migrations
from storage.db import make_engine
from storage.models import Base


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_every_migration_goes_down_and_up_again(db_url):
    expected = set(Base.metadata.tables)
    assert tables(db_url) == expected
    migrations.downgrade(db_url, "base")
    assert tables(db_url) == set()
    migrations.upgrade(db_url)
    assert tables(db_url) == expected
    assert migrations.is_current(db_url)


def test_models_and_migrations_agree(db_url):
    """Autogenerate finds nothing to do: every model change has its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_fast_head_lookup_agrees_with_alembic():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert migrations.head_revision() == script.get_current_head()
