"""Times as people write them, for the dead letters' filters (``parse_time``)."""

from __future__ import annotations

import datetime

import pytest

from runtime.stores.letters import parse_time

# -- times as people write them ---------------------------------------------------------------

NOW = datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds_before_now"),
    [
        ("2026-11-29T11:00:00Z", 3600),
        ("2026-11-29T13:00:00+02:00", 3600),
        ("2026-11-29T11:30", 1800),
        ("2026-11-29", 12 * 3600),
        (str(NOW - 90), 90),
        ("45s", 45),
        ("30m", 1800),
        ("2h", 7200),
        ("1.5d", 36 * 3600),
        ("1w", 7 * 86_400),
    ],
    ids=["utc", "offset", "naive is utc", "a date", "epoch", "s", "m", "h", "d", "w"],
)
def test_a_time_may_be_iso_8601_epoch_seconds_or_an_age(text: str, seconds_before_now: float):
    assert parse_time(text, "since", now=NOW) == pytest.approx(NOW - seconds_before_now)


@pytest.mark.parametrize("text", ["yesterday", "", "5 parsecs", "nan", "inf"], ids=repr)
def test_a_time_that_cannot_be_read_is_refused_naming_the_option(text: str):
    with pytest.raises(ValueError, match=r"^--until: .* is not a time; give an ISO 8601 time"):
        parse_time(text, "--until", now=NOW)
