"""Round 10's deeper MobileNetV2 cut: the network, its checkpoint and its manifest agree on the
feature stride, and the box cover grid follows it (torch side)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
