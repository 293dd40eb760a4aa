"""Which rules an event matches: filters, time windows and cooldowns.

``RuleMatcher.match`` is synchronous and pure apart from its cooldown memory; the clock is
injected, so tests drive the hour of day and the cooldowns. A cooldown starts when a rule
matches (not when its notification is delivered): a target that is down must not turn a quiet
period into a flood once it is back.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from node.clock import Clock
from schemas.attributes import (
    FaceRecognizedAttributes,
    FaceUnknownAttributes,
    MovementIdentifiedAttributes,
    ObjectAttributes,
)
from schemas.config.notifications import DAYS, NotificationsConfig, RuleConfig, TimeWindow
from schemas.events import Event, Severity

# Failure events of the notifier itself match only rules that name the type exactly, so a
# `types: ["*"]` rule cannot loop on its own failures.
NOTIFICATION_TYPES = "notification.*"
FAILED_EVENT_TYPE = "notification.failed"  # a notification given up (node.notify.worker)
UNKNOWN_IDENTITY = "unknown"

_SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


def event_identities(event: Event) -> set[str]:
    """Face identities an event carries: names, ``unknown`` for unrecognised faces; empty when
    the event says nothing about faces (a fire, a car)."""
    match event.attributes:
        case FaceRecognizedAttributes(identity=name):
            return {name}
        case FaceUnknownAttributes():
            return {UNKNOWN_IDENTITY}
        case MovementIdentifiedAttributes(identities=names, unknown_faces=unknown):
            return set(names) | ({UNKNOWN_IDENTITY} if unknown > 0 else set())
    return set()


def event_zones(event: Event) -> list[str]:
    """The configured zones an object event's box is in (``ObjectAttributes.zones``)."""
    attrs = event.attributes
    return list(attrs.zones) if isinstance(attrs, ObjectAttributes) else []


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_window(window: TimeWindow, local: datetime) -> bool:
    """Whether ``local`` (an aware datetime in the notification zone) falls in ``window``."""
    start, end = _minutes(window.start), _minutes(window.end)
    now = local.hour * 60 + local.minute
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    if start < end:
        return today in window.days and start <= now < end
    # Wraps past midnight: the evening part belongs to today, the morning part to yesterday.
    return (today in window.days and now >= start) or (yesterday in window.days and now < end)


def _any_glob(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _type_matches(rule: RuleConfig, event_type: str) -> bool:
    if fnmatch.fnmatchcase(event_type, NOTIFICATION_TYPES):
        return event_type in rule.types
    return not rule.types or _any_glob(event_type, rule.types)


def filters_match(rule: RuleConfig, event: Event, local: datetime) -> bool:
    """Every filter of ``rule`` accepts ``event`` (cooldowns aside)."""
    if not rule.enabled or not _type_matches(rule, event.type):
        return False
    if rule.labels and not _any_glob(event.label, rule.labels):
        return False
    if rule.min_severity is not None and (
        _SEVERITY_ORDER[event.severity] < _SEVERITY_ORDER[rule.min_severity]
    ):
        return False
    if rule.cameras and event.camera not in rule.cameras:
        return False
    if rule.zones and not set(rule.zones) & set(event_zones(event)):
        return False
    if event.lifecycle not in rule.lifecycle:
        return False
    if rule.identities and not set(rule.identities) & event_identities(event):
        return False
    if event.score < rule.min_score:
        return False
    return not rule.windows or any(in_window(w, local) for w in rule.windows)


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    targets: list[str]


class RuleMatcher:
    """Matches events against the configured rules and keeps their cooldowns."""

    def __init__(self, config: NotificationsConfig, zone: tzinfo, clock: Clock) -> None:
        self._config = config
        self._zone = zone
        self._clock = clock
        self._rule_last: dict[str, float] = {}
        self._track_last: dict[tuple[str, str, str], float] = {}
        self.suppressed: dict[str, int] = {}  # rule -> matches dropped by a cooldown
        self._pruned_at = clock.monotonic()

    def match(self, event: Event) -> list[RuleMatch]:
        """Rules that take ``event``, in config order; starts their cooldowns."""
        if not self._config.enabled:
            return []
        local = datetime.fromtimestamp(self._clock.time(), self._zone)
        now = self._clock.monotonic()
        self._prune(now)
        out: list[RuleMatch] = []
        for name, rule in self._config.rules.items():
            if not filters_match(rule, event, local):
                continue
            if self._cooling(name, rule, event, now):
                self.suppressed[name] = self.suppressed.get(name, 0) + 1
                continue
            self._rule_last[name] = now
            self._track_last[(name, event.camera, event.track_id)] = now
            out.append(RuleMatch(name, self._config.expand(rule)))
        return out

    def _cooling(self, name: str, rule: RuleConfig, event: Event, now: float) -> bool:
        cd = rule.cooldown
        last_rule = self._rule_last.get(name)
        if cd.per_rule_s > 0 and last_rule is not None and now - last_rule < cd.per_rule_s:
            return True
        last_track = self._track_last.get((name, event.camera, event.track_id))
        return cd.per_track_s > 0 and last_track is not None and now - last_track < cd.per_track_s

    def _prune(self, now: float) -> None:
        # Per-track memory grows with every track; forget tracks whose cooldown has passed.
        if now - self._pruned_at < 60.0:
            return
        self._pruned_at = now
        longest = max((r.cooldown.per_track_s for r in self._config.rules.values()), default=0.0)
        self._track_last = {k: t for k, t in self._track_last.items() if now - t < longest}
