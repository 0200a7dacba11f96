"""Released SQL never changes: every file in pymem/sql/released.json still has its hash, and
every incremental file that is not released yet comes after the last release."""

import hashlib

from pymem import migrate
from pymem.sql import SQL_DIR


def test_released_incremental_files_are_unchanged():
    for name, digest in migrate.released_files().items():
        path = SQL_DIR / "incremental" / name
        assert path.exists(), f"released file {name} was removed"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, (
            f"released file {name} changed; put the change in a new incremental file")


def test_unreleased_files_come_after_the_last_release():
    released = migrate.released_files()
    last = max(released)
    for path in (SQL_DIR / "incremental").glob("*.sql"):
        assert path.name in released or path.name > last, path.name


def test_revisions_run_the_incremental_files_in_number_order():
    """Revision NNNN runs NNNN_*.sql and revises NNNN-1: the chain reads straight."""
    files = sorted(p.name for p in (SQL_DIR / "incremental").glob("*.sql"))
    assert [f[:4] for f in files] == [f"{n:04d}" for n in range(1, len(files) + 1)]
    assert migrate.head_revision() == files[-1][:4]
    for path in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text()
        number = int(path.name[:4])
        down = "None" if number == 1 else f'"{number - 1:04d}"'
        assert f'revision, down_revision = "{number:04d}", {down}' in text, path.name
        assert f'incremental("{path.stem}.sql")' in text, path.name


def test_the_head_revision_is_alembics():
    """head_revision() reads file names (no alembic import on connect); alembic agrees."""
    from alembic.script import ScriptDirectory

    assert migrate.head_revision() == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
