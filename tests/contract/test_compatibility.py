"""The event contract across versions (docs/mqtt.md, "Versions").

* Every event an earlier node published (``tests/fixtures/events/``) is read by today's models, with
  its attributes typed and not one key left undeclared, and validates against the published JSON
  Schema (``schemas/json/event.json``, what the retained ``schema`` topic carries).
* A later 1.x event (an extra optional field anywhere, or a type this version does not know) is
  read; a 2.0 event is refused with a message that says why.
* The node's writer is strict: another version, an unknown type or an undeclared key is refused.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import datetime
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from schemas.attributes import (
    EVENT_TYPES,
    EventAttributes,
    FaceRecognizedAttributes,
    MovementAttributes,
)
from schemas.events import ContractError, Event, ensure_writable
from schemas.export import SCHEMA_DIR
from schemas.reader import EventReader, UnsupportedVersionError, parse_event
from schemas.version import SCHEMA_VERSION
from tests.contract.recorded import Recorded, recorded_events

RECORDED = recorded_events()


@pytest.fixture(scope="module")
def published() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / "event.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _instants(value: Any) -> Any:
    """``value`` with every ISO 8601 timestamp string as a datetime."""
    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T":
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _a_recorded(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(r.payload for r in RECORDED if r.payload["type"] == event_type))


def test_every_attributes_model_has_recorded_events() -> None:
    recorded_types = {r.payload["type"] for r in RECORDED}
    models = set(EVENT_TYPES.values())
    covered = {EVENT_TYPES[t] for t in recorded_types if t in EVENT_TYPES}
    missing = sorted(m.__name__ for m in models - covered)
    assert not missing, f"no recorded event for {missing}"
    assert all(r.payload["schema_version"] == r.version for r in RECORDED)


@pytest.mark.parametrize("rec", RECORDED, ids=[r.id for r in RECORDED])
def test_recorded_event_is_read_with_typed_attributes(rec: Recorded) -> None:
    event = parse_event(json.dumps(rec.payload))
    model = EVENT_TYPES[event.type]
    assert type(event.attributes) is model
    # the models declare every key the 1.0 node wrote: nothing was left in model_extra
    assert ensure_writable(event.model_copy(update={"schema_version": SCHEMA_VERSION})) is not None
    # and reading changes nothing: the same JSON comes back out (`gate.*`'s `until`, once
    # `+00:00`, is now written `Z` like every other timestamp: the same instant)
    assert _instants(json.loads(event.model_dump_json())) == _instants(rec.payload)


@pytest.mark.parametrize("rec", RECORDED, ids=[r.id for r in RECORDED])
def test_recorded_event_validates_against_the_published_schema(
    rec: Recorded, published: jsonschema.Draft202012Validator
) -> None:
    published.validate(rec.payload)


def test_published_schema_is_a_union_with_one_branch_per_type(
    published: jsonschema.Draft202012Validator,
) -> None:
    schema = published.schema
    defs = schema["$defs"]
    branch_types: dict[str, str] = {}
    for ref in schema["oneOf"]:
        name = ref["$ref"].removeprefix("#/$defs/")
        if name == "OtherEvent":
            continue
        props = defs[name]["properties"]
        listed = [props["type"]["const"]] if "const" in props["type"] else props["type"]["enum"]
        for t in listed:
            assert t not in branch_types, f"{t} in {branch_types[t]} and {name}"
            branch_types[t] = name
        attrs = defs[props["attributes"]["$ref"].removeprefix("#/$defs/")]
        assert attrs["properties"], f"{name}: attributes without typed properties"
        assert attrs["title"] == EVENT_TYPES[listed[0]].__name__
    assert set(branch_types) == set(EVENT_TYPES)
    other = defs["OtherEvent"]["properties"]["type"]
    assert sorted(other["not"]["enum"]) == sorted(EVENT_TYPES)
    face = defs["FaceRecognizedAttributes"]["properties"]
    assert face["identity"]["type"] == "string" and face["authorised"]["type"] == "boolean"
    version = defs["ObjectEvent"]["properties"]["schema_version"]["pattern"]
    for ok in ("1.0", "1.1", "1.27"):
        assert jsonschema.Draft202012Validator({"pattern": version}).is_valid(ok)
    for bad in ("2.0", "1", "1.x", "10.1"):
        assert not jsonschema.Draft202012Validator({"pattern": version}).is_valid(bad)


def _a_1_1_event() -> dict[str, Any]:
    """A recorded event as a later minor version could send it: new optional fields in the
    envelope, the box and the attributes."""
    payload = _a_recorded("face.recognized")
    payload["schema_version"] = "1.1"
    payload["seq"] = 42
    payload["box"]["rotation"] = 0.0
    payload["attributes"]["mask"] = "none"
    return payload


def test_a_1_1_event_with_new_optional_fields_is_read(
    published: jsonschema.Draft202012Validator,
) -> None:
    payload = _a_1_1_event()
    event = parse_event(payload)
    assert event.schema_version == "1.1"
    assert event.model_extra == {"seq": 42}
    assert event.box is not None and event.box.model_extra == {"rotation": 0.0}
    assert event.attributes.model_extra == {"mask": "none"}
    assert isinstance(event.attributes, FaceRecognizedAttributes)
    assert event.attributes.identity == payload["attributes"]["identity"]
    published.validate(payload)


def test_an_event_of_an_unknown_type_is_read(published: jsonschema.Draft202012Validator) -> None:
    payload = _a_recorded("object")
    payload.update(schema_version="1.3", type="queue.length", label="person",
                   attributes={"queue": "ticket_office", "length": 7, "wait_s": 95.0})
    event = parse_event(payload)
    assert event.type == "queue.length"
    assert type(event.attributes) is EventAttributes
    assert event.attributes.model_extra == {"queue": "ticket_office", "length": 7, "wait_s": 95.0}
    assert json.loads(event.model_dump_json())["attributes"] == payload["attributes"]
    published.validate(payload)
    # ... but the node never writes a type without its model
    with pytest.raises(ContractError, match="no attributes model"):
        ensure_writable(event.model_copy(update={"schema_version": SCHEMA_VERSION}))


@pytest.mark.parametrize("version", ["2.0", "0.9", "1", None])
def test_another_major_version_is_refused_with_a_clear_message(
    version: str | None, published: jsonschema.Draft202012Validator
) -> None:
    payload = _a_recorded("fire")
    payload["schema_version"] = version
    with pytest.raises(UnsupportedVersionError) as err:
        parse_event(payload)
    assert f"schema_version {version!r} cannot be read here" in str(err.value)
    assert "reads 1.x" in str(err.value)
    # the models say the same to a consumer who validates directly
    with pytest.raises(ValidationError, match=r"reads 1\.x"):
        Event.model_validate(payload)
    assert not published.is_valid(payload)


def test_a_known_type_with_wrong_attributes_is_refused() -> None:
    payload = _a_recorded("face.recognized")
    del payload["attributes"]["identity"]
    payload["attributes"]["authorised"] = "maybe"
    with pytest.raises(ValidationError) as err:
        parse_event(payload)
    locs = {tuple(e["loc"]) for e in err.value.errors()}
    assert locs == {("attributes", "identity"), ("attributes", "authorised")}


def test_the_writer_refuses_undeclared_keys_old_versions_and_wrong_models() -> None:
    payload = _a_recorded("movement")
    payload["schema_version"] = SCHEMA_VERSION
    ensure_writable(Event.model_validate(payload))
    with pytest.raises(ContractError, match=r"undeclared field\(s\) attributes.mood"):
        ensure_writable(Event.model_validate({**payload,
                                              "attributes": {**payload["attributes"], "mood": 1}}))
    with pytest.raises(ContractError, match="undeclared field"):
        ensure_writable(Event.model_validate({**payload, "seq": 1}))
    with pytest.raises(ContractError, match=f"writes {SCHEMA_VERSION!r}"):
        ensure_writable(Event.model_validate({**payload, "schema_version": "1.0"}))
    # the attributes model of another type is an error at construction
    movement = MovementAttributes.model_validate(payload["attributes"])
    with pytest.raises(ValidationError, match="must be FireAttributes, not MovementAttributes"):
        Event.model_validate({**payload, "type": "fire", "attributes": movement})


def test_reader_drops_repeats_by_event_id() -> None:
    reader = EventReader(remember=2)
    a, b, c = (_a_recorded(t) for t in ("fire", "smoke", "object"))
    assert reader.read(json.dumps(a)) is not None
    assert reader.read(json.dumps(a).encode()) is None  # the same event delivered twice
    assert reader.read(b) is not None and reader.read(c) is not None
    assert reader.read(a) is not None  # forgotten: only the last `remember` ids are kept
    assert (reader.read_count, reader.duplicates) == (4, 1)
    with pytest.raises(ValueError, match="JSON object"):
        parse_event("[1, 2]")
