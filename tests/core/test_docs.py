"""Docs that are generated from code must stay true to it."""

from __future__ import annotations

from pathlib import Path

from node.cli.main import build_parser
from node.config_reference import render_reference

REPO = Path(__file__).resolve().parents[2]


def test_config_reference_doc_matches_models() -> None:
    doc = (REPO / "docs" / "config.md").read_text()
    assert render_reference() in doc, (
        "docs/config.md drifted from schemas/config: regenerate with "
        "`python -m node.config_reference > docs/config.md`"
    )


def test_readme_lists_every_subcommand() -> None:
    readme = (REPO / "README.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"citywatch {name}" in readme, f"README does not mention `citywatch {name}`"
