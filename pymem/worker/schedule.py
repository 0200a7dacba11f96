"""Scheduled maintenance where pg_cron is missing: the decay sweep, consolidation and the
login-session limits run from `pymem worker` on the same cron expressions
pymem/sql/idempotent/095_schedule.sql gives pg_cron.

Several workers may run; a session-level advisory lock held for the whole job lets only
one of them run it, the others skip that tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import psycopg

from pymem.queries import query

log = logging.getLogger("pymem.schedule")

DECAY_CRON = "0 */6 * * *"
COMPACT_CRON = "30 3 * * *"
LOGIN_LIMITS_CRON = "* * * * *"
_LOCK_KEYS = {"decay": 0x706D0001, "compact": 0x706D0002, "login_limits": 0x706D0003}
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 6))


class CronError(ValueError):
    pass


def parse_cron(expression: str) -> list[set[int]]:
    """Five fields (minute hour day month weekday) of *, N, A-B, lists and /step."""
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"cron expression needs 5 fields, got {len(parts)}: {expression!r}")
    fields = []
    for text, (name, low, high) in zip(parts, _FIELDS):
        values: set[int] = set()
        for item in text.split(","):
            base, _, step_text = item.partition("/")
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                start, end = (int(x) for x in base.split("-", 1))
            else:
                start = end = int(base)
                if step_text:
                    end = high
            if not (low <= start <= end <= high) or step < 1:
                raise CronError(f"{name} field {item!r} is outside {low}-{high}")
            values.update(range(start, end + 1, step))
        fields.append(values)
    return fields


def matches(fields: list[set[int]], moment: dt.datetime) -> bool:
    minute, hour, day, month, weekday = fields
    return (moment.minute in minute and moment.hour in hour and moment.day in day
            and moment.month in month and (moment.isoweekday() % 7) in weekday)


def run_job(dsn: str, job: str, batch: int = 10000) -> dict | None:
    """Run one job now unless another runner holds its lock; returns its report."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute(query("try_job_lock"), {"key": _LOCK_KEYS[job]}).fetchone()[0]:
            return None
        try:
            if job == "decay":
                totals = {"scanned": 0, "updated": 0, "stale": 0, "archived": 0}
                while True:
                    report = conn.execute(query("decay_sweep"), {"batch": batch}).fetchone()[0]
                    for key in totals:
                        totals[key] += report[key]
                    if report["scanned"] < batch:
                        totals["retention"] = conn.execute(query("retention_sweep")).fetchone()[0]
                        return totals
            if job == "login_limits":
                return conn.execute(query("enforce_login_limits")).fetchone()[0]
            return conn.execute(query("compact_all")).fetchone()[0]
        finally:
            conn.execute(query("job_unlock"), {"key": _LOCK_KEYS[job]})


def scheduler(dsn: str, stop: threading.Event, schedules: dict[str, str] | None = None) -> None:
    """Check the schedules once a minute until ``stop``; run what is due."""
    parsed = {job: parse_cron(expr) for job, expr in (schedules or {"decay": DECAY_CRON, "compact": COMPACT_CRON,
                                                                 "login_limits": LOGIN_LIMITS_CRON}).items()}
    last_minute = None
    while not stop.is_set():
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        if now != last_minute:
            last_minute = now
            for job, fields in parsed.items():
                if matches(fields, now):
                    try:
                        report = run_job(dsn, job)
                        quiet = job == "login_limits" and report is not None and not report.get("terminated")
                        (log.debug if quiet else log.info)("scheduled %s: %s", job, report if report is not None else "skipped (another runner)")
                    except psycopg.Error as exc:
                        log.warning("scheduled %s failed: %s", job, exc)
        stop.wait(5)
