"""The fire/smoke network (torch): truncated ImageNet MobileNetV2 + 1x1 neck + linear head.

Why truncated: the full MobileNetV2 feature extractor is ~8.9 MB in FP32, over the 5 MiB budget
for committed models. ``blocks`` = how many of torchvision's ``features`` are kept: 14 (blocks
0-13: stride 16, 96 channels, 0.54 M parameters; fire@2 and fire@3, a CAM twice as fine) or 16
(blocks 0-15: stride 32, 160 channels, 1.0 M parameters, ~4.1 MB; the shipped fire@4, which
classified `valid/` better, model card "Round 10"). A 1x1 conv neck (-> 256, BN, ReLU6) and a
linear head on global-average-pooled features make CAM exact: cam_k = w_k . F + b_k.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

BACKBONE_BLOCKS = 14  # torchvision mobilenet_v2().features[:14]
# output channels and stride of mobilenet_v2().features[:blocks] for the cuts we support
CUTS: dict[int, tuple[int, int]] = {14: (96, 16), 15: (160, 32), 16: (160, 32), 17: (160, 32)}
BACKBONE_CHANNELS = CUTS[BACKBONE_BLOCKS][0]
NECK_CHANNELS = 256
FROZEN_BLOCKS = 7  # stem + blocks 1-6 (stride 8): generic filters; freezing halves backward cost
NUM_CLASSES = 2


def feature_stride(blocks: int) -> int:
    return _cut(blocks)[1]


def _cut(blocks: int) -> tuple[int, int]:
    if blocks not in CUTS:
        raise ValueError(f"backbone blocks must be one of {sorted(CUTS)}, got {blocks}")
    return CUTS[blocks]


class FireNet(nn.Module):
    def __init__(self, blocks: int = BACKBONE_BLOCKS) -> None:
        super().__init__()
        channels, self.feature_stride = _cut(blocks)
        self.blocks = blocks
        self.backbone = torchvision.models.mobilenet_v2().features[:blocks]
        self.neck = nn.Sequential(
            nn.Conv2d(channels, NECK_CHANNELS, 1, bias=False),
            nn.BatchNorm2d(NECK_CHANNELS),
            nn.ReLU6(inplace=True),
        )
        self.head = nn.Linear(NECK_CHANNELS, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, 2) and the last feature map (N, 256, H/stride, W/stride)."""
        feats = self.neck(self.backbone(x))
        logits = self.head(feats.mean(dim=(2, 3)))
        return logits, feats

    def load_imagenet(self, pth: Path) -> None:
        """Load torchvision's ImageNet MobileNetV2 state dict into the truncated backbone."""
        state = torch.load(pth, map_location="cpu", weights_only=True)
        prefix = "features."
        own = {
            k[len(prefix) :]: v
            for k, v in state.items()
            if k.startswith(prefix) and int(k[len(prefix) :].split(".")[0]) < self.blocks
        }
        self.backbone.load_state_dict(own, strict=True)

    def freeze_early(self, blocks: int = FROZEN_BLOCKS) -> None:
        for p in self.backbone[:blocks].parameters():
            p.requires_grad = False

    def train(self, mode: bool = True) -> FireNet:
        super().train(mode)
        # Frozen blocks keep ImageNet BN statistics: small batches would otherwise drift them.
        for m in self.backbone[:FROZEN_BLOCKS].modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self


def blocks_in(state: dict[str, torch.Tensor]) -> int:
    """The backbone cut a saved state dict was trained with (its highest block index + 1)."""
    idx = [int(k.split(".")[1]) for k in state if k.startswith("backbone.")]
    if not idx:
        raise ValueError("not a FireNet state dict: no backbone.* weights")
    return max(idx) + 1


class ExportWrapper(nn.Module):
    """What the ONNX graph computes: sigmoid scores and the CAM feature map."""

    def __init__(self, net: FireNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, feats = self.net(x)
        return torch.sigmoid(logits), feats
