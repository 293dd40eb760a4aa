"""Render the config models as a Markdown reference (README and ``config reference``)."""

from __future__ import annotations

from typing import Any, TypeGuard, get_args, get_origin

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


def _walk(model: type[BaseModel], prefix: str, rows: list[tuple[str, str, str]]) -> None:
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        rows.append((key, _default(field), field.description or ""))
        ann = field.annotation
        origin, args = get_origin(ann), get_args(ann)
        if origin is list:
            nested, suffix = args[0], "[]."
        elif origin is dict:
            nested, suffix = args[1], ".<name>."
        else:  # a section, or an optional one
            nested = next((a for a in (ann, *args) if _is_model(a)), None)
            suffix = "."
        if _is_model(nested):
            _walk(nested, f"{key}{suffix}", rows)


def _is_model(t: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(t, type) and issubclass(t, BaseModel)


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
