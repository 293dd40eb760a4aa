"""The checked-in JSON Schemas must match the pydantic models.

Regenerate with `citywatch schema --out schemas/json`.
"""

from __future__ import annotations

import json

import pytest

from schemas.export import SCHEMA_DIR, all_schemas


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_checked_in_schema_matches_model(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.json"
    assert path.exists(), f"{path} missing: run `citywatch schema --out schemas/json`"
    assert json.loads(path.read_text()) == all_schemas()[name], (
        f"{path} drifted from the model: run `citywatch schema --out schemas/json`"
    )


def test_no_stale_schema_files() -> None:
    names = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert names == set(all_schemas())
