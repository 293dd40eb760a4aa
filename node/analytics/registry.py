"""Build the enabled analytics from the config.

Each analytic module contributes one builder ``(config, ctx) -> AnalyticFactory``; builders import
their module lazily so a node without, say, the face models never loads them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.analytics.base import AnalyticFactory
from schemas.config import NodeConfig


@dataclass
class BuildContext:
    """What builders may use. ``models`` resolves registry names to loaded, swappable sessions
    (``node.inference``); ``extras`` carries shared services (e.g. the face gate)."""

    node_id: str
    data_dir: Path
    models: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


Builder = Callable[[NodeConfig, BuildContext], AnalyticFactory]

# analytic name -> "module:function"; the name is also the key under `analytics:` in the config.
BUILDERS: dict[str, str] = {
    "noop": "node.analytics.registry:_build_noop",
    "faces": "node.face.analytic:build_faces",
    "objects": "node.analytics.objects:build",
    "synthetic": "node.analytics.testing:build_synthetic",
    "fire": "node.fire.analytic:build",
    "movement": "node.movement.analytic:build",
}


def _build_noop(config: NodeConfig, ctx: BuildContext) -> AnalyticFactory:
    from node.analytics.noop import NoopFactory

    return NoopFactory(config.analytics.noop)


def resolve_builder(name: str) -> Builder:
    try:
        target = BUILDERS[name]
    except KeyError:
        raise KeyError(f"unknown analytic {name!r}; known: {sorted(BUILDERS)}") from None
    module, _, func = target.partition(":")
    builder: Builder = getattr(importlib.import_module(module), func)
    return builder


def enabled_names(config: NodeConfig) -> list[str]:
    return [
        name
        for name in BUILDERS
        if getattr(getattr(config.analytics, name, None), "enabled", False)
    ]


def build_enabled(config: NodeConfig, ctx: BuildContext) -> list[AnalyticFactory]:
    return [resolve_builder(name)(config, ctx) for name in enabled_names(config)]


@dataclass
class BuildOutcome:
    factories: list[AnalyticFactory]
    failed: dict[str, str]  # analytic name -> why it could not start


def build_enabled_tolerant(config: NodeConfig, ctx: BuildContext) -> BuildOutcome:
    """Build every enabled analytic; one that fails (a model that cannot be fetched or loaded)
    is reported instead of stopping the node, which keeps serving the others."""
    factories: list[AnalyticFactory] = []
    failed: dict[str, str] = {}
    for name in enabled_names(config):
        try:
            factories.append(resolve_builder(name)(config, ctx))
        except Exception as err:  # any builder fault: report it, keep the node up
            failed[name] = f"{type(err).__name__}: {err}"
    return BuildOutcome(factories, failed)
