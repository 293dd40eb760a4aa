"""The node's side of the contract: every type it can publish has its attributes model, and an
analytic that puts a key in an event without declaring it fails here (and in its own tests, which
go through the same ``EventLifecycle``), never on a consumer's machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from node.analytics.base import Observation
from node.analytics.registry import BUILDERS, event_types_for
from node.detect.labels import NODE_LABELS
from node.frame import Frame
from node.lifecycle import EventLifecycle
from schemas.attributes import EVENT_TYPES, ObjectAttributes
from schemas.config import NodeConfig
from schemas.events import ContractError, Event
from tests.contract.recorded import recorded_attributes, typed_attributes
from tests.runtime.test_snapshots import _sink_run


def _everything_enabled() -> NodeConfig:
    return NodeConfig.model_validate({
        "cameras": [{"name": "cam1", "source": "cam1.mp4"}],
        "analytics": {name: {"enabled": True} for name in BUILDERS},
    })


def test_every_type_an_analytic_declares_has_its_attributes_model() -> None:
    declared = event_types_for(_everything_enabled(), list(BUILDERS))
    object_types = {meaning.type for meaning in NODE_LABELS.values()}
    missing = sorted((set(declared) | object_types) - set(EVENT_TYPES))
    assert not missing, f"published without an attributes model: {missing}"
    # and every object type (weapon, drone, ...) carries the objects analytic's attributes
    assert {EVENT_TYPES[t] for t in object_types} == {ObjectAttributes}


def _observe(attributes: Any, type_: str = "object") -> list[Event]:
    lc = EventLifecycle("n1", "cam1", update_interval_s=1.0, end_after_s=1.0)
    frame = Frame("cam1", 0, np.zeros((48, 64, 3), np.uint8), 1_700_000_000.0, 0.0)
    obs = Observation(key="1", type=type_, label="person", score=0.9,
                      box=np.array([1, 2, 30, 40], np.float32), attributes=attributes)
    return [e.event for e in lc.observe(frame, [obs])]


def test_declared_attributes_are_published() -> None:
    (event,) = _observe(typed_attributes("object"))
    assert event.attributes == typed_attributes("object")


def test_an_undeclared_key_fails_at_the_lifecycle() -> None:
    with pytest.raises(ContractError, match=r"'object' event .* attributes\.mood"):
        _observe(ObjectAttributes.model_validate(recorded_attributes("object", mood="calm")))


def test_a_type_without_a_model_fails_at_the_lifecycle() -> None:
    with pytest.raises(ContractError, match=r"add one to schemas/attributes\.py"):
        _observe(typed_attributes("object"), type_="queue.length")


def test_missing_or_mistyped_attributes_fail_at_the_lifecycle() -> None:
    with pytest.raises(ValueError, match="hits"):
        _observe(recorded_attributes("object", hits="many"))


async def test_the_sink_refuses_what_the_writer_would(tmp_path: Path) -> None:
    """Whoever built the event (a gate, an escalation, an analytic): nothing undeclared reaches
    the outbox."""
    (good,) = _observe(typed_attributes("object"))
    stored, _ = await _sink_run(tmp_path / "good", True, [(good, None)])
    assert [e["event_id"] for e in stored] == [good.event_id]
    bad = good.model_copy(update={"attributes": ObjectAttributes.model_validate(
        recorded_attributes("object", mood="calm"))})
    with pytest.raises(ContractError, match="mood"):
        await _sink_run(tmp_path / "bad", True, [(bad, None)])
