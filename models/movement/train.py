"""Train the movement classifier (a small dilated 1D-CNN) on synthetic feature windows and
export it to ONNX (legacy exporter, opset 17) with a JSON sidecar (classes, window, metrics).

    nice -n 10 .venv-train/bin/python -m models.movement.train --out models/movement

The feature standardisation (mean/std over the training set) is baked into the graph, so the
node feeds raw ``node.movement.features`` windows: input ``features [N, steps, F]`` float32,
output ``probs [N, classes]`` (softmax).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.movement.synth import CLASSES, dataset
from node.movement.features import FEATURES, NUM_FEATURES

RATE_HZ = 8.0
STEPS = 24


class MovementNet(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, width: int = 48) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        layers: list[nn.Module] = []
        c = NUM_FEATURES
        for d in (1, 2, 4, 8):
            layers += [nn.Conv1d(c, width, 3, padding=d, dilation=d), nn.BatchNorm1d(width),
                       nn.ReLU()]
            c = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(2 * width, len(CLASSES)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x - self.mean) / self.std).transpose(1, 2)  # (N, F, T)
        h = self.body(x)
        # the newest second matters most for "what is happening now": mean over all steps plus
        # max over the last third keeps a fall at the window's end visible
        pooled = torch.cat([h.mean(dim=2), h[:, :, -(h.shape[2] // 3):].amax(dim=2)], dim=1)
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def train(n_per_class: int, epochs: int, seed: int) -> tuple[MovementNet, dict[str, object]]:
    torch.manual_seed(seed)
    t0 = time.time()
    x, y = dataset(n_per_class, seed, RATE_HZ, STEPS)
    xv, yv = dataset(max(50, n_per_class // 5), seed + 1000, RATE_HZ, STEPS)  # held out: new seed
    gen_s = time.time() - t0
    flat = x.reshape(-1, NUM_FEATURES)
    mean, std = flat.mean(axis=0), flat.std(axis=0) + 1e-3
    net = MovementNet(mean, std)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(perm), 128):
            idx = perm[i:i + 128]
            loss = nn.functional.cross_entropy(net.logits(xt[idx]), yt[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        acc = accuracy(net, xv, yv)
        print(f"epoch {epoch + 1}/{epochs} loss {loss.item():.3f} held-out acc {acc:.4f}",
              flush=True)
    net.eval()
    pred = predict(net, xv)
    conf = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    for a, b in zip(yv, pred, strict=True):
        conf[a, b] += 1
    metrics = {
        "train_windows": len(y), "heldout_windows": len(yv),
        "heldout_accuracy": round(float((pred == yv).mean()), 4),
        "heldout_recall": {c: round(float(conf[i, i] / max(conf[i].sum(), 1)), 4)
                           for i, c in enumerate(CLASSES)},
        "confusion": conf.tolist(), "generate_s": round(gen_s, 1),
        "train_s": round(time.time() - t0 - gen_s, 1),
    }
    return net, metrics


def predict(net: MovementNet, x: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(x)).argmax(dim=1).numpy()


def accuracy(net: MovementNet, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict(net, x) == y).mean())


def export(net: MovementNet, out: Path, metrics: dict[str, object], seed: int,
           n_per_class: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "movement_tcn.onnx"
    net.eval()
    torch.onnx.export(
        net, (torch.zeros(2, STEPS, NUM_FEATURES),), str(onnx_path), dynamo=False, opset_version=17,
        input_names=["features"], output_names=["probs"],
        dynamic_axes={"features": {0: "people"}, "probs": {0: "people"}},
    )
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    sidecar = {
        "name": "movement_tcn", "version": f"synth-s{seed}-n{n_per_class}",
        "classes": list(CLASSES), "features": list(FEATURES), "rate_hz": RATE_HZ, "steps": STEPS,
        "file": onnx_path.name, "sha256": digest, "size": onnx_path.stat().st_size,
        "data": "synthetic pose sequences only (models/movement/synth.py)",
        "license": "Apache-2.0", "metrics": metrics,
    }
    (out / "movement_tcn.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return onnx_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--n-per-class", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net, metrics = train(args.n_per_class, args.epochs, args.seed)
    path = export(net, args.out, metrics, args.seed, args.n_per_class)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
