"""Scheduled maintenance: `pymem worker` runs each job of ``_pymem.schedule_plan()`` that
pg_cron does not (``_pymem.cron_jobs()``; pymem/sql/idempotent/095_schedule.sql registers
them there where it can), on the worker schedule the plan gives.

Several workers may run; a session-level advisory lock held for the whole job lets only
one of them run it, the others skip that tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import psycopg

from pymem.sql import query

log = logging.getLogger("pymem.schedule")

JOBS = ("decay", "retention", "compact", "login_limits")
_LOCK_KEYS = {"decay": 0x706D0001, "compact": 0x706D0002, "login_limits": 0x706D0003, "retention": 0x706D0004}
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
    if job not in _LOCK_KEYS:
        raise ValueError(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not conn.execute(query("try_job_lock"), {"key": _LOCK_KEYS[job]}).fetchone()[0]:
            return None
        try:
            if job == "decay":
                # A whole pass, one committed batch at a time.
                totals = {"scanned": 0, "updated": 0, "stale": 0, "archived": 0}
                while True:
                    report = conn.execute(query("decay_sweep"), {"batch": batch}).fetchone()[0]
                    for key in totals:
                        totals[key] += report[key]
                    if report["pass_done"]:
                        return totals
            if job == "retention":
                return conn.execute(query("retention_sweep")).fetchone()[0]
            if job == "login_limits":
                return conn.execute(query("enforce_login_limits")).fetchone()[0]
            return conn.execute(query("compact_all")).fetchone()[0]
        finally:
            conn.execute(query("job_unlock"), {"key": _LOCK_KEYS[job]})


def plan(dsn: str) -> list[dict]:
    """Every job with its schedules and who runs it here: "pg_cron" or "worker"."""
    with psycopg.connect(dsn) as conn:
        in_cron = {row[0] for row in conn.execute(query("cron_jobs"))}
        rows = conn.execute(query("schedule_plan")).fetchall()
    return [{"job": job, "runner": "pg_cron" if job in in_cron else "worker",
             "schedule": cron if job in in_cron else worker, "command": command}
            for job, worker, cron, command in rows]


def scheduler(dsn: str, stop: threading.Event, schedules: dict[str, str] | None = None) -> None:
    """Check the schedules once a minute until ``stop``; run what is due. Without
    ``schedules``, the jobs pg_cron does not run, on the plan's worker schedule."""
    if schedules is None:
        schedules = {row["job"]: row["schedule"] for row in plan(dsn) if row["runner"] == "worker"}
        log.info("scheduling %s here (pg_cron runs the rest)", ", ".join(sorted(schedules)) or "nothing")
    parsed = {job: parse_cron(expr) for job, expr in schedules.items()}
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
