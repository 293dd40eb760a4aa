"""Build the enabled analytics from the config, and say which event types they publish.

Each analytic module contributes one ``AnalyticBuilder``: ``(config, ctx) -> AnalyticFactory``
plus the event types its analytics publish (``events/<type>``). Builders are imported lazily, so
a node without, say, the face models never loads them; discovery (Home Assistant) reads the
declared event types without building anything, so a new analytic needs no edit there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.analytics.base import AnalyticFactory
from schemas.config import NodeConfig

if TYPE_CHECKING:  # the services import the face and movement packages
    from node.services import NodeServices


@dataclass
class BuildContext:
    """What builders may use. ``models`` resolves registry names to loaded, swappable sessions
    (``node.inference``); ``services`` are the node's shared services (the gate, the face engine
    and gallery, the movement escalation), None outside a node (``analyze``, tests): a builder
    then makes what it needs itself."""

    node_id: str
    data_dir: Path
    models: Any = None
    services: NodeServices | None = None


BuildFn = Callable[[NodeConfig, BuildContext], AnalyticFactory]
# (config, the analytics announced together) -> event types; e.g. movement publishes
# `movement.identified` only where faces run too.
EventTypesRule = Callable[[NodeConfig, Collection[str]], Sequence[str]]


@dataclass(frozen=True)
class AnalyticBuilder:
    """One analytic's builder and the event types its analytics publish, declared next to the
    code that emits them: a fixed tuple, or a rule of the config and the other analytics."""

    build: BuildFn
    event_types: Sequence[str] | EventTypesRule

    def __call__(self, config: NodeConfig, ctx: BuildContext) -> AnalyticFactory:
        return self.build(config, ctx)

    def emits(self, config: NodeConfig, running: Collection[str]) -> list[str]:
        declared = self.event_types
        return list(declared(config, running) if callable(declared) else declared)


Builder = AnalyticBuilder | BuildFn

# analytic name -> "module:builder"; the name is also the key under `analytics:` in the config.
BUILDERS: dict[str, str] = {
    "noop": "node.analytics.registry:build_noop",
    "faces": "node.face.analytic:build_faces",
    "objects": "node.analytics.objects:build",
    "synthetic": "node.analytics.testing:build_synthetic",
    "fire": "node.fire.analytic:build",
    "movement": "node.movement.factory:build",
}


def _build_noop(config: NodeConfig, ctx: BuildContext) -> AnalyticFactory:
    from node.analytics.noop import NoopFactory

    return NoopFactory(config.analytics.noop)


build_noop = AnalyticBuilder(_build_noop, event_types=())


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


def event_types_for(config: NodeConfig, analytics: Sequence[str]) -> list[str]:
    """The event types ``analytics`` publish together, each once, in order. A builder that
    declares none (a bare function, e.g. a test's) publishes one type named after it."""
    types: list[str] = []
    for name in analytics:
        builder = resolve_builder(name)
        declared = (
            builder.emits(config, analytics) if isinstance(builder, AnalyticBuilder) else [name]
        )
        types += [t for t in declared if t not in types]
    return types


def build_enabled(config: NodeConfig, ctx: BuildContext) -> list[AnalyticFactory]:
    return [resolve_builder(name)(config, ctx) for name in enabled_names(config)]


@dataclass
class BuildOutcome:
    factories: list[AnalyticFactory]
    failed: dict[str, str]  # analytic name -> why it could not start


def failure_reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def build_enabled_tolerant(
    config: NodeConfig, ctx: BuildContext, failed: Mapping[str, str] | None = None
) -> BuildOutcome:
    """Build every enabled analytic; one that fails (a model that cannot be fetched or loaded)
    is reported instead of stopping the node, which keeps serving the others. ``failed``: those
    known to have failed already (a shared service they need did not start), not built again."""
    factories: list[AnalyticFactory] = []
    outcome_failed = dict(failed or {})
    for name in enabled_names(config):
        if name in outcome_failed:
            continue
        try:
            factories.append(resolve_builder(name)(config, ctx))
        except Exception as err:  # any builder fault: report it, keep the node up
            outcome_failed[name] = failure_reason(err)
    return BuildOutcome(factories, outcome_failed)
