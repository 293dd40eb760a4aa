"""Torch-side checks (need the ``train`` extra; skipped when torch is not importable):
ONNX export parity with torch (1e-4) and a smoke training of a few steps."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SharedData
from tests.fire.smoke_training import random_images, random_net, smoke_config, smoke_split

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def test_export_parity_scores_features_and_cam(tmp_path: Path) -> None:
    from models.fire.export import PARITY_TOL, export_onnx, parity

    net = random_net(0)
    path = tmp_path / "fire.onnx"
    export_onnx(net, path, 64)
    diffs = parity(net, path, random_images(tmp_path), 64)
    assert max(diffs.values()) <= PARITY_TOL, diffs


@pytest.mark.shared_data
def test_smoke_training_runs_and_is_reproducible(
    shared_data: SharedData, tmp_path: Path
) -> None:
    from models.fire.train import TrainConfig, train

    split = smoke_split(shared_data)

    def cfg(out: str) -> TrainConfig:
        # the box-supervised CAM path of the shipped model
        return smoke_config(shared_data, tmp_path / out, cam_loss=0.5, cam_neg_loss=0.5)

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


def test_box_coverage_is_the_share_of_each_cell_under_the_boxes() -> None:
    from models.fire.train import box_coverage, feature_side

    assert feature_side(192) == 12 and feature_side(256) == 16 and feature_side(100) == 7
    cov = box_coverage([(0.0, 0.0, 0.25, 0.5)], 64)  # 4x4 grid: one column, two rows
    expected = np.zeros((4, 4), np.float32)
    expected[:2, 0] = 1.0
    np.testing.assert_array_equal(cov, expected)
    tiny = box_coverage([(0.5, 0.5, 0.5001, 0.5001)], 64)  # below a pixel: still one pixel
    assert tiny.sum() == pytest.approx(1 / 256) and tiny[2, 2] > 0
    assert box_coverage([], 64).sum() == 0


def test_cam_losses_reward_a_map_inside_the_box_and_quiet_negatives() -> None:
    from models.fire.net import NECK_CHANNELS, FireNet
    from models.fire.train import cam_losses

    net = FireNet()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.weight[:, 0] = 1.0  # CAM_k = channel 0 of the features + b_k
        net.head.bias.fill_(-1.0)
    cover = torch.zeros(1, 2, 4, 4)
    cover[0, 0, 0, 0] = 1.0  # fire box over the top-left cell
    y = torch.tensor([[1.0, 0.0]])  # fire yes, smoke no
    feats_in = torch.zeros(1, NECK_CHANNELS, 4, 4)
    feats_in[0, 0, 0, 0] = 6.0  # hot inside the box
    feats_out = torch.zeros(1, NECK_CHANNELS, 4, 4)
    feats_out[0, 0, 3, 3] = 6.0  # as hot, elsewhere
    loc_in, neg_in = cam_losses(net, feats_in, y, cover)
    loc_out, neg_out = cam_losses(net, feats_out, y, cover)
    assert 0 <= float(loc_in) < float(loc_out)
    # the smoke map (negative class) has the same hot cell in both: same negative loss
    assert float(neg_in) == pytest.approx(float(neg_out))
    loc_in.backward()  # differentiable through the head
    assert net.head.weight.grad is not None
