"""Render the config models as a Markdown reference (README and ``config reference``)."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from schemas.config import NodeConfig


def _default(field: Any) -> str:
    if field.is_required():
        return "(required)"
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "x-default" in extra:  # computed where the node runs
        return str(extra["x-default"])
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
        if isinstance(value, BaseModel):
            return "(section)"
        return repr(value)
    if hasattr(field.default, "value"):
        return repr(field.default.value)
    return repr(field.default)


def _models_in(ann: Any) -> list[tuple[str, type[BaseModel]]]:
    """(key suffix, model) of the config sections inside a field's annotation: the model
    itself (also as ``X | None``), list items (``[]``) and mapping values (``<name>``)."""
    origin = get_origin(ann)
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(ann) for m in _models_in(arg)]
    if origin is list:
        return [("[]", m) for _, m in _models_in(get_args(ann)[0])]
    if origin is dict:
        return [(".<name>", m) for _, m in _models_in(get_args(ann)[1])]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [("", ann)]
    return []


def _walk(model: type[BaseModel], prefix: str, rows: list[tuple[str, str, str]]) -> None:
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        rows.append((key, _default(field), field.description or ""))
        for suffix, inner in _models_in(field.annotation):
            _walk(inner, f"{key}{suffix}.", rows)


def render_reference() -> str:
    rows: list[tuple[str, str, str]] = []
    _walk(NodeConfig, "", rows)
    lines = ["| key | default | description |", "|---|---|---|"]
    lines += [f"| `{k}` | `{d}` | {h} |" for k, d, h in rows]
    return "\n".join(lines)


def render_document() -> str:
    return (
        "# Configuration reference\n\n"
        "Generated from `schemas/config/` by `python -m node.config_reference > docs/config.md`\n"
        "(also `citywatch config reference`). Environment variables `CITYWATCH__SECTION__KEY`\n"
        "override any key, e.g. `CITYWATCH__MQTT__PASSWORD`.\n\n" + render_reference() + "\n"
    )


if __name__ == "__main__":
    print(render_document(), end="")
