"""Each rule filter, cooldown and time window: a matching event passes, a non-matching one is
refused (remove the filter and the refusal test fails)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from node.clock import ManualClock
from node.notify.rules import RuleMatcher, event_identities, in_window
from schemas.config.notifications import TimeWindow
from schemas.events import Lifecycle, Severity
from tests.notify.events import event, notifications

MON_NOON = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc).timestamp()


def matcher(rule: dict[str, Any], clock: ManualClock | None = None) -> RuleMatcher:
    cfg = notifications({"r": {"targets": ["hook"], **rule}})
    return RuleMatcher(cfg, timezone.utc, clock or ManualClock(MON_NOON))


@pytest.mark.parametrize(
    ("rule", "passes", "refused"),
    [
        ({"types": ["weapon"]}, {"type": "weapon"}, {"type": "fire"}),
        ({"types": ["face.*"]}, {"type": "face.unknown"}, {"type": "fire"}),
        ({"labels": ["fall"]}, {"label": "fall"}, {"label": "run"}),
        ({"min_severity": "high"}, {"severity": Severity.CRITICAL},
         {"severity": Severity.MEDIUM}),
        ({"cameras": ["gate"]}, {"camera": "gate"}, {"camera": "yard"}),
        ({"zones": ["door"]}, {"attributes": {"zones": ["door", "road"]}},
         {"attributes": {"zones": ["road"]}}),
        ({"zones": ["door"]}, {"attributes": {"zones": ["door"]}}, {"attributes": {"zones": []}}),
        # zones are the objects analytic's: an event of another type is in none
        ({"zones": ["door"]}, {"attributes": {"zones": ["door"]}}, {"type": "fire"}),
        ({}, {"lifecycle": Lifecycle.NEW}, {"lifecycle": Lifecycle.UPDATE}),
        ({"lifecycle": ["end"]}, {"lifecycle": Lifecycle.END}, {"lifecycle": Lifecycle.NEW}),
        ({"identities": ["unknown"]}, {"type": "face.unknown", "attributes": {}},
         {"type": "face.recognized", "attributes": {"identity": "alice"}}),
        ({"identities": ["unknown"]}, {"type": "face.unknown", "attributes": {}},
         {"type": "fire", "attributes": {}}),
        ({"identities": ["alice"]},
         {"type": "face.recognized", "attributes": {"identity": "alice"}},
         {"type": "face.recognized", "attributes": {"identity": "bob"}}),
        ({"min_score": 0.8}, {"score": 0.85}, {"score": 0.5}),
        ({"enabled": True}, {}, None),
    ],
)
def test_filter(
    rule: dict[str, Any], passes: dict[str, Any], refused: dict[str, Any] | None
) -> None:
    assert matcher(rule).match(event(**passes)), "the matching event was refused"
    if refused is not None:
        # A fresh matcher: no cooldown involved.
        assert matcher(rule).match(event(**refused)) == [], "the filter let a wrong event pass"


def test_disabled_rule_and_section_match_nothing() -> None:
    assert matcher({"enabled": False}).match(event()) == []
    cfg = notifications({"r": {"targets": ["hook"]}}, enabled=False)
    assert RuleMatcher(cfg, timezone.utc, ManualClock(MON_NOON)).match(event()) == []


def test_notification_events_need_their_exact_type() -> None:
    failed = event(type="notification.failed")
    assert matcher({"types": ["*"]}).match(failed) == []
    assert matcher({}).match(failed) == []
    assert matcher({"types": ["notification.failed"]}).match(failed)


def test_hours_window_follows_the_manual_clock() -> None:
    clock = ManualClock(MON_NOON)  # Monday 12:00 UTC
    m = matcher({"windows": [{"start": "22:00", "end": "06:00"}]}, clock)
    assert m.match(event(track_id="a")) == []
    clock.advance(11 * 3600)  # Monday 23:00
    assert m.match(event(track_id="b"))
    clock.advance(4 * 3600)  # Tuesday 03:00: still the night that began on Monday
    assert m.match(event(track_id="c"))
    clock.advance(3 * 3600)  # Tuesday 06:00: the end is exclusive
    assert m.match(event(track_id="d")) == []


def test_window_days_and_time_zone() -> None:
    clock = ManualClock(MON_NOON)  # 12:00 UTC = 14:00 in Rome (summer time)
    cfg = notifications(
        {"r": {"targets": ["hook"], "windows": [{"days": ["mon"], "start": "13:30",
                                                 "end": "15:00"}]}},
        timezone="Europe/Rome",
    )
    from zoneinfo import ZoneInfo

    m = RuleMatcher(cfg, ZoneInfo("Europe/Rome"), clock)
    assert m.match(event(track_id="a"))
    clock.advance(24 * 3600)  # Tuesday, same hour: not a listed day
    assert m.match(event(track_id="b")) == []


@pytest.mark.parametrize(
    ("window", "weekday_hour", "inside"),
    [
        (TimeWindow(days=["fri"], start="22:00", end="06:00"), ("sat", 3), True),
        (TimeWindow(days=["fri"], start="22:00", end="06:00"), ("fri", 3), False),
        (TimeWindow(days=["fri"], start="22:00", end="06:00"), ("fri", 23), True),
        (TimeWindow(start="08:00", end="18:00"), ("wed", 18), False),
        (TimeWindow(start="08:00", end="18:00"), ("wed", 8), True),
        (TimeWindow(start="00:00", end="24:00"), ("sun", 23), True),
    ],
)
def test_in_window(window: TimeWindow, weekday_hour: tuple[str, int], inside: bool) -> None:
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(weekday_hour[0])
    when = datetime(2024, 5, 6 + day, weekday_hour[1], 0, tzinfo=timezone.utc)
    assert in_window(window, when) is inside


def test_per_track_cooldown() -> None:
    clock = ManualClock(MON_NOON)
    m = matcher({"lifecycle": ["new", "update"], "cooldown": {"per_track_s": 60}}, clock)
    assert m.match(event(track_id="a"))
    clock.advance(30)
    assert m.match(event(track_id="a", lifecycle=Lifecycle.UPDATE)) == []  # same track: quiet
    assert m.match(event(track_id="b"))  # another track is not held back
    clock.advance(31)
    assert m.match(event(track_id="a", lifecycle=Lifecycle.UPDATE))
    assert m.suppressed == {"r": 1}


def test_per_rule_cooldown() -> None:
    clock = ManualClock(MON_NOON)
    m = matcher({"cooldown": {"per_rule_s": 300}}, clock)
    assert m.match(event(track_id="a"))
    clock.advance(100)
    assert m.match(event(track_id="b")) == []  # another track, same rule: quiet
    clock.advance(201)
    assert m.match(event(track_id="c"))


def test_cooldown_is_per_rule() -> None:
    cfg = notifications({
        "a": {"targets": ["hook"], "cooldown": {"per_rule_s": 300}},
        "b": {"targets": ["hook"]},
    })
    m = RuleMatcher(cfg, timezone.utc, ManualClock(MON_NOON))
    assert [x.rule for x in m.match(event(track_id="1"))] == ["a", "b"]
    assert [x.rule for x in m.match(event(track_id="2"))] == ["b"]


def test_targets_expand_groups_once() -> None:
    cfg = notifications(
        {"r": {"targets": ["night", "sms"]}},
        targets={"sms": {"url": "json://127.0.0.1:9/a"}, "mail": {"url": "json://127.0.0.1:9/b"}},
        groups={"night": ["mail", "sms"]},
    )
    (match,) = RuleMatcher(cfg, timezone.utc, ManualClock(MON_NOON)).match(event())
    assert match.targets == ["mail", "sms"]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"type": "face.unknown", "attributes": {}}, {"unknown"}),
        ({"type": "face.recognized", "attributes": {"identity": "alice"}}, {"alice"}),
        ({"type": "movement.identified",
          "attributes": {"identities": ["bob"], "unknown_faces": 1}}, {"bob", "unknown"}),
        ({"type": "fire", "attributes": {}}, set()),
    ],
)
def test_event_identities(kw: dict[str, Any], expected: set[str]) -> None:
    assert event_identities(event(**kw)) == expected
