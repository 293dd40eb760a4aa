"""Torch-side checks (need the ``train`` extra; skipped when torch is not importable):
ONNX export parity with torch (1e-4) and a smoke training of a few steps."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SharedData

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def test_export_parity_scores_features_and_cam(tmp_path: Path) -> None:
    from models.fire.export import PARITY_TOL, export_onnx, parity
    from models.fire.net import FireNet

    torch.manual_seed(0)
    net = FireNet().eval()
    # random BN statistics so the parity check exercises non-trivial activations
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "fire.onnx"
    export_onnx(net, path, 64)
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        import cv2

        cv2.imwrite(str(p), rng.integers(0, 255, (48 + 16 * i, 80, 3), dtype=np.uint8))
        images.append(p)
    diffs = parity(net, path, images, 64)
    assert max(diffs.values()) <= PARITY_TOL, diffs


@pytest.mark.shared_data
def test_smoke_training_runs_and_is_reproducible(
    shared_data: SharedData, tmp_path: Path
) -> None:
    from models.fire.data import Split, load_yolo_split
    from models.fire.train import TrainConfig, train

    # a handful of labelled images, no de-duplication pass: this checks the training loop
    pool = load_yolo_split(shared_data.path("datasets/fire_smoke/valid"), "valid")
    kinds = {s.kind: s for s in pool}
    fit = [*pool[:3], kinds["fire"], kinds["smoke"]]
    split = Split(fit=fit, val=pool[-3:], test=[], heldout_negatives=[])

    def cfg(out: str) -> TrainConfig:
        return TrainConfig(
            data=shared_data.path("datasets/fire_smoke"),
            out=tmp_path / out,
            pretrained=shared_data.path("models/mobilenet_v2-b0353104.pth"),
            epochs=1,
            batch_size=4,
            input_size=96,
            max_images=8,
            max_steps=2,
            threads=1,
            progress=False,
        )

    t0 = time.monotonic()
    first = train(cfg("a"), split)
    elapsed = time.monotonic() - t0
    second = train(cfg("b"), split)
    assert first.checkpoint.is_file()
    a = torch.load(first.checkpoint, weights_only=True)
    b = torch.load(second.checkpoint, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a), "same seed must give the same weights"
    assert first.history[0]["train_loss"] > 0
    print(f"smoke training took {elapsed:.1f}s")
