"""The fire/smoke network (torch): truncated ImageNet MobileNetV2 + 1x1 neck + linear head.

Why truncated: the full MobileNetV2 feature extractor is ~8.9 MB in FP32, over the 5 MiB budget
for committed models. Blocks 0-13 (stride 16, 96 channels, 0.54 M parameters) keep the pretrained
low/mid-level colour and texture filters that fire and smoke need, and stride 16 gives a CAM twice
as fine as the full network's stride 32. A 1x1 conv neck (96 -> 256, BN, ReLU6) and a linear head
on global-average-pooled features make CAM exact: cam_k = w_k . F + b_k.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch import nn

BACKBONE_BLOCKS = 14  # torchvision mobilenet_v2().features[:14]
BACKBONE_CHANNELS = 96
NECK_CHANNELS = 256
FROZEN_BLOCKS = 7  # stem + blocks 1-6 (stride 8): generic filters; freezing halves backward cost
NUM_CLASSES = 2


class FireNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = torchvision.models.mobilenet_v2().features[:BACKBONE_BLOCKS]
        self.neck = nn.Sequential(
            nn.Conv2d(BACKBONE_CHANNELS, NECK_CHANNELS, 1, bias=False),
            nn.BatchNorm2d(NECK_CHANNELS),
            nn.ReLU6(inplace=True),
        )
        self.head = nn.Linear(NECK_CHANNELS, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, 2) and the last feature map (N, 256, H/16, W/16)."""
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
            if k.startswith(prefix) and int(k[len(prefix) :].split(".")[0]) < BACKBONE_BLOCKS
        }
        missing, unexpected = self.backbone.load_state_dict(own, strict=True), None
        del missing, unexpected

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


class ExportWrapper(nn.Module):
    """What the ONNX graph computes: sigmoid scores and the CAM feature map."""

    def __init__(self, net: FireNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, feats = self.net(x)
        return torch.sigmoid(logits), feats
