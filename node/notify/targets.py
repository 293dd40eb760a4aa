"""Target names -> Apprise URLs (secrets), their masked forms, and the ``config check`` pass.

A URL comes from ``url`` (set it through the environment) or ``url_file``; never from MQTT: no
command changes a target. Only masked forms (``mask_url``) and scrubbed messages leave here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from node.notify.apprise_adapter import Scrubber, mask_url, url_problem
from node.notify.templates import template_error, template_fields
from schemas.attributes import FaceRecognizedAttributes
from schemas.config.notifications import NotificationsConfig, TargetConfig
from schemas.events import Event, Lifecycle


class TargetError(Exception):
    """A target's URL cannot be had; ``key`` is the config key to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def env_var_for(target: str) -> str:
    return f"CITYWATCH__NOTIFICATIONS__TARGETS__{target.upper()}__URL"


def resolve_url(name: str, target: TargetConfig) -> str:
    """The secret URL of ``target``; ``TargetError`` names the key when it cannot be had."""
    if target.url is not None:
        url = target.url.get_secret_value().strip()
        if not url:
            raise TargetError("url", f"is empty (set {env_var_for(name)})")
        return url
    if target.url_file is not None:
        try:
            lines = Path(target.url_file).read_text(encoding="utf-8").splitlines()
        except OSError as err:
            why = f"cannot read {target.url_file}: {err.strerror}"
            raise TargetError("url_file", why) from None
        url = lines[0].strip() if lines else ""
        if not url:
            raise TargetError("url_file", f"{target.url_file} is empty")
        return url
    raise TargetError(
        "url", f"not set: set the environment variable {env_var_for(name)} or `url_file`"
    )


def sample_event(node_id: str = "node") -> Event:
    """An event with every field set, to try templates on."""
    now = datetime.now(timezone.utc)
    return Event(
        node_id=node_id, camera="cam", type="face.recognized", track_id="t1",
        lifecycle=Lifecycle.NEW, started_at=now, score=0.9, label="face", labels=["face"],
        attributes=FaceRecognizedAttributes(
            identity="alice", authorised=True, similarity=0.9, votes=3, face_track=1
        ),
    )


def check_notifications(config: NotificationsConfig) -> list[str]:
    """Every problem of the ``notifications`` section that needs Apprise or the files: missing
    secrets, unknown schemes, malformed URLs, templates whose format specs do not fit. Each
    names its key and the rules concerned."""
    problems: list[str] = []
    for name, target in config.targets.items():
        used = config.rules_using(name)
        by = f" (used by rule {', '.join(used)})" if used else " (used by no rule)"
        try:
            url = resolve_url(name, target)
        except TargetError as err:
            problems.append(f"notifications.targets.{name}.{err.key}{by}: {err.message}")
            continue
        problem = url_problem(url)
        if problem:
            key = "url" if target.url is not None else "url_file"
            problems.append(f"notifications.targets.{name}.{key}{by}: {problem}")
    fields = template_fields(sample_event(), "rule", "node", timezone.utc)
    for rule_name, rule in config.rules.items():
        for key, text in (("title", rule.title), ("body", rule.body)):
            why = template_error(text, fields)
            if why:
                problems.append(f"notifications.rules.{rule_name}.{key}: {why}")
    return problems


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    masked: str
    min_interval_s: float | None = None


class TargetBook:
    """The resolved targets of a checked config."""

    def __init__(self, config: NotificationsConfig) -> None:
        self._targets: dict[str, Target] = {}
        for name, t in config.targets.items():
            url = resolve_url(name, t)
            self._targets[name] = Target(name, url, mask_url(url), t.min_interval_s)
        self.scrubber = Scrubber([t.url for t in self._targets.values()])

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def get(self, name: str) -> Target:
        return self._targets[name]

    def names(self) -> list[str]:
        return list(self._targets)
