"""Where the SQL and the alembic scripts are: inside the wheel, or in a source checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"none of {', '.join(map(str, candidates))} exists")


def sql_dir() -> Path:
    return _first_existing(_PACKAGE / "_sql", _PACKAGE.parent / "sql")


def migrations_dir() -> Path:
    return _first_existing(_PACKAGE / "_migrations", _PACKAGE.parent / "migrations")
