"""Round 10's deeper MobileNetV2 cut: the network, its checkpoint and its manifest agree on the
feature stride, and the box cover grid follows it (torch side)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SharedData
from tests.fire.smoke_training import smoke_config, smoke_split

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


@pytest.mark.parametrize(("blocks", "channels_in", "stride"), [(14, 96, 16), (16, 160, 32)])
def test_cut_sets_channels_and_stride(blocks: int, channels_in: int, stride: int) -> None:
    from models.fire.net import FireNet, blocks_in

    net = FireNet(blocks).eval()
    assert net.neck[0].in_channels == channels_in
    assert net.feature_stride == stride
    with torch.no_grad():
        logits, feats = net(torch.zeros(1, 3, 192, 192))
    assert tuple(logits.shape) == (1, 2)
    assert tuple(feats.shape) == (1, 256, 192 // stride, 192 // stride)
    assert blocks_in(net.state_dict()) == blocks


def test_unknown_cut_and_foreign_state_are_refused() -> None:
    from models.fire.net import FireNet, blocks_in

    with pytest.raises(ValueError, match="backbone blocks must be one of"):
        FireNet(13)
    with pytest.raises(ValueError, match="not a FireNet state dict"):
        blocks_in({"head.weight": torch.zeros(2, 256)})


def test_checkpoint_reloads_its_cut_and_the_manifest_states_its_stride(tmp_path: Path) -> None:
    import json

    from models.fire.export import load_net, write_manifest
    from models.fire.net import FireNet

    torch.manual_seed(0)
    net = FireNet(16)
    ckpt = tmp_path / "fire_best.pt"
    torch.save(net.state_dict(), ckpt)
    back = load_net(ckpt)
    assert back.blocks == 16
    pairs = zip(net.state_dict().values(), back.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    (tmp_path / "fire_fp32.onnx").write_bytes(b"x")  # write_manifest hashes the listed file
    manifest = write_manifest(back, tmp_path, 192, {"fire": 0.5, "smoke": 0.5}, "test")
    assert json.loads(manifest.read_text())["feature_stride"] == 32


def test_box_cover_grid_follows_the_stride() -> None:
    from models.fire.train import box_coverage

    box = [(0.0, 0.0, 0.5, 0.5)]  # the top-left quarter of the image
    fine = box_coverage(box, 192, 16)
    coarse = box_coverage(box, 192, 32)
    assert fine.shape == (12, 12) and coarse.shape == (6, 6)
    assert coarse[:3, :3].min() == 1.0 and coarse[3:, :].max() == 0.0
    # the same covered area either way
    assert np.isclose(fine.mean(), coarse.mean())


def test_the_cli_offers_exactly_the_supported_cuts_and_versions_tag_the_cut() -> None:
    import argparse

    from models.cli.fire_cmd import register
    from models.fire.net import CUTS
    from models.fire.pipeline import SHIPPED_BLOCKS, VERSION, version_for

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["fire", "--data", "d", "--out", "o"])
    assert args.backbone_blocks == 14
    for blocks in CUTS:
        parsed = parser.parse_args(["fire", "--data", "d", "--out", "o",
                                    "--backbone-blocks", str(blocks)])  # fmt: skip
        assert parsed.backbone_blocks == blocks
    with pytest.raises(SystemExit):
        parser.parse_args(["fire", "--data", "d", "--out", "o", "--backbone-blocks", "13"])
    assert version_for(SHIPPED_BLOCKS) == VERSION
    assert version_for(14) != VERSION


@pytest.mark.shared_data
def test_smoke_training_at_stride_32_with_the_cam_loss_and_finish_reload(
    shared_data: SharedData, tmp_path: Path
) -> None:
    from models.fire.train import TrainConfig, _finish, train

    split = smoke_split(shared_data)
    # the box cover must be on the stride-32 grid, or cam_losses raises
    cfg = smoke_config(shared_data, tmp_path / "b16", cam_loss=0.5, backbone_blocks=16)
    result = train(cfg, split)
    state = torch.load(result.checkpoint, weights_only=True)
    assert state["neck.0.weight"].shape[1] == 160
    wrong = TrainConfig(**{**vars(cfg), "backbone_blocks": 14})
    from models.fire.train import FireDataset

    val = FireDataset(split.val, 96, 0, train=False, progress=False, stride=16)
    with pytest.raises(ValueError, match="--backbone-blocks 16"):
        _finish(wrong, split, val, result.checkpoint, [], 0.0, 0.0)
