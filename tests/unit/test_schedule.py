"""Cron expressions for the worker-side scheduler (where pg_cron is absent)."""

import datetime as dt

import pytest

from pymem.worker.schedule import CronError, matches, parse_cron


def at(text):
    return dt.datetime.fromisoformat(text)


def test_cron_expressions():
    every_six = parse_cron("0 */6 * * *")
    assert matches(every_six, at("2026-11-22T06:00"))
    assert matches(every_six, at("2026-11-22T00:00"))
    assert not matches(every_six, at("2026-11-22T06:01"))
    assert not matches(every_six, at("2026-11-22T07:00"))
    weekdays = parse_cron("30 3 * * 1-5")
    assert matches(weekdays, at("2026-11-23T03:30"))      # a Monday
    assert not matches(weekdays, at("2026-11-22T03:30"))  # a Sunday
    assert matches(parse_cron("5,10 1 1 1 *"), at("2027-01-01T01:10"))
    for bad in ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *"]:
        with pytest.raises((CronError, ValueError)):
            parse_cron(bad)
