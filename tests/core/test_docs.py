"""Docs that are generated from code must stay true to it."""

from __future__ import annotations

from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path

import pytest

from models.cli.main import build_parser as build_workshop_parser
from node.cli.main import build_parser
from node.config_reference import render_reference

REPO = Path(__file__).resolve().parents[2]


def test_config_reference_doc_matches_models() -> None:
    doc = (REPO / "docs" / "config.md").read_text()
    assert render_reference() in doc, (
        "docs/config.md drifted from schemas/config: regenerate with "
        "`python -m node.config_reference > docs/config.md`"
    )


@pytest.mark.parametrize(
    ("prog", "build"), [("citywatch", build_parser), ("citywatch-train", build_workshop_parser)]
)
def test_readme_lists_every_subcommand(prog: str, build: Callable[[], ArgumentParser]) -> None:
    readme = (REPO / "README.md").read_text()
    sub = next(a for a in build()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"`{prog} {name}" in readme, f"README does not mention `{prog} {name}`"
