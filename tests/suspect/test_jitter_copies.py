"""``train.py --jitter-copies``: copy 0 of the scale-jittered copies is the single copy of v2/v4
(same folder, same seed, same bytes) and copy 1 differs.

Needs torch only because ``models.suspect.train`` imports it (skipped without)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from models.suspect.dataset import LabeledImage  # noqa: E402 (after the importorskip)
from models.suspect.train import build_cache, jitter_copies  # noqa: E402


def _images(folder: Path) -> list[LabeledImage]:
    rng = np.random.default_rng(3)
    items = []
    for k, (h, w) in enumerate([(40, 60), (72, 48), (50, 50)]):
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        path = folder / f"img{k}.png"
        cv2.imwrite(str(path), img)
        boxes = np.asarray([[0.2, 0.25, 0.6, 0.7], [0.5, 0.1, 0.9, 0.4]], np.float32)
        items.append(LabeledImage(path, np.asarray([1, 2], np.int64), boxes))
    return items


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.jpg"))}


def test_jitter_copy_zero_is_the_single_copy_and_copy_one_differs(tmp_path: Path) -> None:
    assert jitter_copies(1) == [("jitter", 0)]  # the default: v2/v4's cache folder and seed
    assert jitter_copies(2) == [("jitter", 0), ("jitter1", 1)]
    with pytest.raises(ValueError):
        jitter_copies(0)
    (tmp_path / "src").mkdir()
    items = _images(tmp_path / "src")
    single = build_cache(items, 64, tmp_path / "single" / "jitter", jitter_seed=0)  # today's call
    copies = {name: build_cache(items, 64, tmp_path / "two" / name, jitter_seed=seed)
              for name, seed in jitter_copies(2)}  # fmt: skip
    a = _folder_bytes(tmp_path / "single" / "jitter")
    b = _folder_bytes(tmp_path / "two" / "jitter")
    c = _folder_bytes(tmp_path / "two" / "jitter1")
    assert len(a) == 3 and a == b  # copy 0: byte-identical images
    for s, c0 in zip(single, copies["jitter"], strict=True):
        np.testing.assert_array_equal(s.targets, c0.targets)
    assert all(a[n] != c[n] for n in a)  # copy 1: other scales / places, other pixels
    assert any(
        s.targets.shape != c1.targets.shape or not np.array_equal(s.targets, c1.targets)
        for s, c1 in zip(single, copies["jitter1"], strict=True)
    )
