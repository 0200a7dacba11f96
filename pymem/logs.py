"""Logging for the long-running commands (`pymem serve`, `pymem worker`): text for people,
or one JSON object per line for log collectors (``--log-format json``)."""

from __future__ import annotations

import json
import logging
import os

TEXT_FORMAT = "%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"


class JSONFormatter(logging.Formatter):
    """time (ISO 8601, UTC), level, logger, pid, message, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        import datetime as dt

        return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


def configure(level: str = "info", fmt: str = "text") -> None:
    """Route every logger (uvicorn's too) through one handler on stderr in ``fmt``."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format {fmt!r}: use text or json")
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    os.environ["PYMEM_LOG_FORMAT"] = fmt  # service worker processes inherit it
