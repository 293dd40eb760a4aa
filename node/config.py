"""Load the node's YAML config, apply environment overrides, validate it.

Environment overrides: ``CITYWATCH__SECTION__KEY=value`` sets ``section.key`` (any depth, keys in
lower case), e.g. ``CITYWATCH__MQTT__PASSWORD``. Values are parsed as YAML scalars, so ``true``,
``1883`` and ``null`` get their natural types. Secrets belong there, not in the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.config import NodeConfig

ENV_PREFIX = "CITYWATCH__"


class ConfigError(Exception):
    """The config file is missing, unreadable, not YAML, or invalid. ``str()`` says where."""


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    out = dict(raw)
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if path:
            _set_path(out, path, yaml.safe_load(value) if value else value)
    return out


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} problem(s)"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see `citywatch config reference`)"
        lines.append(f"  - {where}: {msg}")
    return "\n".join(lines)


def parse_config(
    raw: Any, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> NodeConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(raw).__name__}")
    merged = apply_env_overrides(raw, os.environ if environ is None else environ)
    try:
        config = NodeConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    check_services(config, source)
    return config


def check_services(config: NodeConfig, source: str) -> None:
    """Checks that need more than the models: notification URLs (Apprise) and secret files."""
    if not config.notifications.targets:
        return
    from node.notify.targets import check_notifications  # imports Apprise: only when needed

    problems = check_notifications(config.notifications)
    if problems:
        lines = [f"{source}: {len(problems)} problem(s)", *(f"  - {p}" for p in problems)]
        raise ConfigError("\n".join(lines))


def load_config(path: str | Path | None, environ: Mapping[str, str] | None = None) -> NodeConfig:
    if path is None:
        return parse_config({}, "<defaults>", environ)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{p}: cannot read: {err.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{p}: not valid YAML: {err}") from None
    return parse_config(raw, str(p), environ)
