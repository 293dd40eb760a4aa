"""Model selection on val only: the best score wins, the smaller input within 0.01."""

from __future__ import annotations

from typing import Any

import pytest

from models.fire.select import winner


def _report(score: float, size: int, name: str) -> dict[str, Any]:
    return {"score": score, "input_size": size, "manifest": name}


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([_report(1.2, 192, "a"), _report(1.5, 256, "b")], "b"),
        ([_report(1.495, 192, "a"), _report(1.5, 256, "b")], "a"),  # within 0.01: smaller input
        ([_report(1.5, 192, "a"), _report(1.2, 192, "b")], "a"),
    ],
)
def test_selection_rule(reports: list[dict[str, Any]], expected: str) -> None:
    assert winner(reports)["manifest"] == expected
