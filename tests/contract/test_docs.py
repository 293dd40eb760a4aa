"""docs/mqtt.md's table of event attributes stays true to ``schemas/attributes.py``: every type,
every model and every key, as consumers read it there."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.attributes import EVENT_TYPES, IdentifiedPerson
from tests.conftest import REPO


def _rows() -> dict[str, str]:
    """Attributes model name -> its row of the table."""
    text = (REPO / "docs" / "mqtt.md").read_text()
    section = text.split("## Event attributes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines()
            if line.startswith("| `") and not line.startswith("| `type`")]
    return {line.split("|")[2].strip().strip("`"): line for line in rows}


def _keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_every_type_model_and_key_is_in_the_table() -> None:
    rows = _rows()
    for event_type, model in EVENT_TYPES.items():
        row = rows.get(model.__name__)
        assert row is not None, f"docs/mqtt.md: no row for {model.__name__}"
        assert f"`{event_type}`" in row.split("|")[1], f"{event_type} not in its row"
        keys = _keys(model) | (_keys(IdentifiedPerson) if "people" in _keys(model) else set())
        missing = sorted(k for k in keys if f"`{k}" not in row)
        assert not missing, f"docs/mqtt.md, {model.__name__}: {missing} not listed"
    assert len(rows) == len(set(EVENT_TYPES.values()))
