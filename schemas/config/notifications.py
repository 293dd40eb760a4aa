"""Notifications (``notifications:``): named targets (Apprise URLs), groups of them, and rules.

A rule matches events (type, label, severity, camera, zone, lifecycle, identity, score, time
windows) and names the targets it notifies. Targets carry secrets (tokens, passwords), so their
URLs come from the environment (``CITYWATCH__NOTIFICATIONS__TARGETS__<NAME>__URL``) or a file
(``url_file``); they are ``SecretStr`` and never printed. Whether a URL names a known Apprise
service and parses is checked by ``node.notify.check`` (it needs Apprise); everything that needs
no library is checked here.
"""

from __future__ import annotations

import string
import zoneinfo
from enum import Enum
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from schemas.config.base import ConfigSection
from schemas.events import NAME_PATTERN, Lifecycle, Severity

Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"

# Names a title or body template may use, as ``{name}`` (``{score:.2f}``, ``{attributes[k]}``).
TEMPLATE_FIELDS: dict[str, str] = {
    "event_id": "the event's id",
    "node_id": "the node's id",
    "node": "the node's name (node_id when unnamed)",
    "camera": "camera name",
    "type": "event type, e.g. `fire`, `face.unknown`",
    "label": "main label, e.g. `fall`, `knife`",
    "labels": "all labels, comma-separated",
    "severity": "info, low, medium, high or critical",
    "score": "confidence 0..1 (a number: `{score:.2f}`)",
    "score_pct": "confidence in percent (an integer)",
    "lifecycle": "new, update or end",
    "track_id": "the occurrence's track id",
    "time": "event time in the notification time zone, `YYYY-MM-DD HH:MM:SS TZ`",
    "zones": "zones the object was in, comma-separated",
    "identity": "recognised identities (or `unknown`), comma-separated",
    "rule": "the rule's name",
    "attributes": "the event's attributes: `{attributes[similarity]}`",
    "event_json": "the whole event as JSON (webhooks)",
}
DEFAULT_TITLE = "[{severity}] {type}: {label} on {camera}"
DEFAULT_BODY = (
    "{label} ({type}, {score_pct}%) on camera {camera} of {node} at {time}.\n"
    "Zones: {zones}. Identity: {identity}. Event {event_id}, rule {rule}."
)


def template_problem(text: str) -> str | None:
    """Why ``text`` is not a usable template (unknown field, attribute access, bad braces)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as err:
        return f"bad template: {err} (write a literal brace as `{{{{` or `}}}}`)"
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            return "positional fields `{}` are not allowed; name a field, e.g. `{camera}`"
        root = field.split("[", 1)[0]
        if "." in root:
            return f"`{{{field}}}`: attribute access is not allowed; use `{{attributes[key]}}`"
        if root not in TEMPLATE_FIELDS:
            return f"unknown field `{{{field}}}`; known: {', '.join(TEMPLATE_FIELDS)}"
    return None


class AttachKind(str, Enum):
    NONE = "none"
    SNAPSHOT = "snapshot"  # the event's full snapshot (with the fire heatmap where there is one)
    CROP = "crop"  # the crop of the event's box (falls back to the snapshot without a box)


class TargetConfig(ConfigSection):
    """One Apprise URL. Exactly one of ``url`` and ``url_file``."""

    url: SecretStr | None = Field(
        default=None,
        description="Apprise URL (`mailto://`, `tgram://`, `ntfys://`, `json://`...). It holds "
        "secrets: set it with env CITYWATCH__NOTIFICATIONS__TARGETS__<NAME>__URL.",
    )
    url_file: str | None = Field(
        default=None, description="File whose first line is the Apprise URL (Docker secret)."
    )
    min_interval_s: float | None = Field(
        default=None,
        ge=0,
        description="Least time between two messages to this target (default: Apprise's pace "
        "for the service, 5.5 s for e-mail and most others; 0 for a local relay).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> TargetConfig:
        if self.url is not None and self.url_file is not None:
            raise ValueError("set either url or url_file, not both")
        return self


class TimeWindow(ConfigSection):
    """Days and a time of day range; ``start`` after ``end`` wraps past midnight (the night of
    each listed day: Friday 22:00-06:00 includes Saturday 03:00)."""

    days: list[Day] = Field(
        default_factory=lambda: list(DAYS), description="Days the window starts on."
    )
    start: str = Field(default="00:00", pattern=_CLOCK, description="From HH:MM (inclusive).")
    end: str = Field(default="24:00", pattern=_CLOCK, description="Until HH:MM (exclusive).")

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(f"empty window {self.start}-{self.end}; for all day use 00:00-24:00")
        if not self.days:
            raise ValueError("a window needs at least one day")
        return self


class CooldownConfig(ConfigSection):
    per_track_s: float = Field(
        default=0.0, ge=0, description="Quiet time after a notification for the same track."
    )
    per_rule_s: float = Field(
        default=0.0, ge=0, description="Quiet time after any notification of this rule."
    )


class RuleConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Disabled rules match nothing.")
    types: list[str] = Field(
        default_factory=list,
        description="Event types (shell globs, `face.*`); empty: all but `notification.*`.",
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels (globs), e.g. `fall`, `knife`; empty: any."
    )
    min_severity: Severity | None = Field(
        default=None, description="Least severity (info < low < medium < high < critical)."
    )
    cameras: list[str] = Field(default_factory=list, description="Cameras; empty: any.")
    zones: list[str] = Field(
        default_factory=list, description="Zones the object must be in (one of); empty: any."
    )
    lifecycle: list[Lifecycle] = Field(
        default_factory=lambda: [Lifecycle.NEW], description="Lifecycles: new, update, end."
    )
    identities: list[str] = Field(
        default_factory=list,
        description="Face identities (one of); `unknown` = unrecognised faces; empty: any event.",
    )
    min_score: float = Field(default=0.0, ge=0, le=1, description="Least event score.")
    windows: list[TimeWindow] = Field(
        default_factory=list, description="When the rule is active (any window); empty: always."
    )
    targets: list[Name] = Field(
        min_length=1, description="Names of targets or groups under `notifications`."
    )
    cooldown: CooldownConfig = Field(default_factory=CooldownConfig)
    title: str = Field(default=DEFAULT_TITLE, description="Title template ({field} names).")
    body: str = Field(default=DEFAULT_BODY, description="Body template ({field} names).")
    attach: AttachKind = Field(
        default=AttachKind.SNAPSHOT,
        description="`snapshot`, `crop` or `none`; only for services that take attachments.",
    )

    @field_validator("title", "body")
    @classmethod
    def _template(cls, v: str) -> str:
        problem = template_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class RetryConfig(ConfigSection):
    max_attempts: int = Field(default=10, ge=1, description="Sends before giving up.")
    initial_delay_s: float = Field(default=5.0, gt=0, description="Wait after the first failure.")
    max_delay_s: float = Field(default=600.0, gt=0, description="Longest wait between attempts.")
    jitter: float = Field(
        default=0.2, ge=0, le=1, description="Each wait is randomised by +/- this fraction."
    )
    give_up_after_s: float = Field(
        default=24 * 3600.0, gt=0, description="Give up on a notification older than this."
    )


class NotificationsConfig(ConfigSection):
    enabled: bool = Field(default=True, description="Off: no rule is evaluated.")
    timezone: str | None = Field(
        default=None,
        description="IANA zone of rule windows and `{time}` (default: the node's local zone).",
    )
    targets: dict[Name, TargetConfig] = Field(
        default_factory=dict, description="Named Apprise URLs."
    )
    groups: dict[Name, list[Name]] = Field(
        default_factory=dict, description="Named lists of targets, usable in a rule's `targets`."
    )
    rules: dict[Name, RuleConfig] = Field(
        default_factory=dict, description="Named rules, evaluated for every event."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    concurrency: int = Field(
        default=4, ge=1, le=32, description="Sends at once (never two to the same target)."
    )
    attachment_wait_s: float = Field(
        default=5.0, ge=0, description="How long a send waits for the event's snapshot."
    )
    keep_done_s: float = Field(
        default=7 * 24 * 3600.0, gt=0, description="How long sent/failed jobs are remembered."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                why = f"unknown time zone {v!r} (an IANA name, e.g. Europe/Rome)"
                raise ValueError(why) from None
        return v

    @model_validator(mode="after")
    def _names(self) -> NotificationsConfig:
        problems: list[str] = []
        for name in sorted(set(self.targets) & set(self.groups)):
            problems.append(f"groups.{name}: a target has the same name")
        for name, members in self.groups.items():
            unknown = [m for m in members if m not in self.targets]
            if unknown:
                problems.append(f"groups.{name}: unknown target(s) {unknown}")
        known = sorted({*self.targets, *self.groups})
        for name, rule in self.rules.items():
            unknown = [t for t in rule.targets if t not in self.targets and t not in self.groups]
            if unknown:
                problems.append(
                    f"rules.{name}.targets: unknown target(s) {unknown}; known: {known}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def rules_using(self, target: str) -> list[str]:
        """Rules that notify ``target`` (directly or through a group)."""
        return sorted(name for name, rule in self.rules.items() if target in self.expand(rule))

    def expand(self, rule: RuleConfig) -> list[str]:
        """A rule's target names, groups expanded, each once, in order."""
        out: list[str] = []
        for name in rule.targets:
            for t in self.groups.get(name, [name]):
                if t not in out:
                    out.append(t)
        return out
