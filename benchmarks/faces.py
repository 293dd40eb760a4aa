"""Face pipeline latency on CPU: detection + alignment + embedding, 1 and 5 faces per frame.

    CITYWATCH_TEST_DATA=../shared nice -n 10 .venv/bin/python benchmarks/faces.py --threads 2

Frames are 1280x720 grey canvases with 1 or 5 real celeb5 test faces (150x150) pasted in.
Reports the median over ``--runs`` frames: detection ms per frame, align+embed ms per face,
total ms per frame and the resulting frames per second.

When torch and facenet_pytorch import (run it with the training venv:
``PYTHONPATH=. .venv-train/bin/python benchmarks/faces.py``), the seed's route is timed in the
same run on the same frames with the same thread count: facenet-pytorch MTCNN (P/R/O-net state
dicts read from ``<data>/models/mtcnn/*.pt``) detect + crop to 160x160 + InceptionResnetV1 embed,
and the ratio ours/seed is printed. InceptionResnetV1's pretrained weights are not available
offline, so it runs with random weights: only its latency is meaningful, not its embeddings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from node.face.align import align
from node.face.embed import MOBILEFACENET, Embedder
from node.face.models import ort_runner
from node.face.yunet import YuNetDetector
from node.inference.session import SessionOptions


def make_frame(faces: list[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    frame = np.full((720, 1280, 3), 110, np.uint8)
    for i, f in enumerate(faces):
        x, y = 60 + i * 240, 200 + (i % 2) * 150
        frame[y : y + f.shape[0], x : x + f.shape[1]] = f
    return frame


def bench(det: YuNetDetector, emb: Embedder, frame: npt.NDArray[np.uint8], runs: int) -> dict[
    str, float
]:
    d_ms, e_ms, n_faces = [], [], 0
    for _ in range(runs + 3):
        t0 = time.perf_counter()
        faces = det.detect(frame)
        t1 = time.perf_counter()
        crops = [align(frame, faces.landmarks[i]) for i in range(len(faces))]
        emb.embed(crops)
        t2 = time.perf_counter()
        d_ms.append((t1 - t0) * 1e3)
        e_ms.append((t2 - t1) * 1e3)
        n_faces = len(faces)
    d, e = statistics.median(d_ms[3:]), statistics.median(e_ms[3:])
    return {"faces": n_faces, "detect_ms": d, "align_embed_ms_per_face": e / max(n_faces, 1),
            "total_ms": d + e, "fps": 1000.0 / (d + e)}


SeedRun = Callable[[npt.NDArray[np.uint8]], tuple[int, float, float]]


def seed_route(root: Path, threads: int) -> SeedRun | None:
    """The seed's facenet-pytorch route, or None when torch/facenet_pytorch are missing.

    Returns ``run(frame_bgr) -> (faces, detect_ms, crop_embed_ms)``.
    """
    try:
        import torch
        from facenet_pytorch import MTCNN, InceptionResnetV1
    except ImportError:
        return None
    torch.set_num_threads(threads)
    mtcnn = MTCNN(image_size=160, margin=0, keep_all=True, device="cpu").eval()
    for name in ("pnet", "rnet", "onet"):  # [why] the shared weights, never a download
        net: Any = getattr(mtcnn, name)
        net.load_state_dict(torch.load(root / f"models/mtcnn/{name}.pt", map_location="cpu"))
    resnet = InceptionResnetV1(pretrained=None).eval()  # random weights: latency only

    def run(frame: npt.NDArray[np.uint8]) -> tuple[int, float, float]:
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        with torch.inference_mode():
            t0 = time.perf_counter()
            boxes, _ = mtcnn.detect(rgb)
            t1 = time.perf_counter()
            n = 0 if boxes is None else len(boxes)
            if n:
                crops = mtcnn.extract(rgb, boxes, None)
                resnet(crops)
            t2 = time.perf_counter()
        return n, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    return run


def bench_seed(run: SeedRun, frame: npt.NDArray[np.uint8], runs: int) -> dict[str, float]:
    d_ms, e_ms, n_faces = [], [], 0
    for _ in range(runs + 3):
        n_faces, d, e = run(frame)
        d_ms.append(d)
        e_ms.append(e)
    d, e = statistics.median(d_ms[3:]), statistics.median(e_ms[3:])
    return {"faces": n_faces, "detect_ms": d, "align_embed_ms_per_face": e / max(n_faces, 1),
            "total_ms": d + e, "fps": 1000.0 / (d + e)}


def _row(label: str, n: int, r: dict[str, float]) -> str:
    return (f"{label} | {n} (found {r['faces']:.0f}) | {r['detect_ms']:.1f} | "
            f"{r['align_embed_ms_per_face']:.1f} | {r['total_ms']:.1f} | {r['fps']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("CITYWATCH_TEST_DATA", "../shared"))
    ap.add_argument("--threads", type=int, default=2, help="ORT intra-op threads per model.")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    root = Path(args.data)
    opts = SessionOptions(intra_op_threads=args.threads, providers=("cpu",))
    det = YuNetDetector(ort_runner(root / "models/yunet_n_320_320.onnx", opts))
    emb = Embedder(ort_runner(root / "models/MobileFaceNet.onnx", opts), MOBILEFACENET)
    tests = sorted((root / "datasets/faces/celeb5/test").glob("*/*"))
    faces = [cv2.resize(cv2.imread(str(p)), (150, 150)) for p in tests[:5]]
    seed = seed_route(root, args.threads)
    print(f"CPU, threads={args.threads} (ORT intra-op; torch.set_num_threads), frame 1280x720, "
          f"median of {args.runs}")
    if seed is None:
        print("seed route (facenet-pytorch MTCNN + InceptionResnetV1) skipped: "
              "torch/facenet_pytorch do not import")
    print("route | faces | detect ms | crop/align+embed ms/face | total ms | FPS")
    for n in (1, 5):
        frame = make_frame(faces[:n])
        ours = bench(det, emb, frame, args.runs)
        print(_row("ours (YuNet+MobileFaceNet, ORT)", n, ours))
        if seed is not None:
            theirs = bench_seed(seed, frame, args.runs)
            print(_row("seed (MTCNN+InceptionResnetV1, torch)", n, theirs))
            print(f"ratio ours/seed total ms, {n} face(s): "
                  f"{ours['total_ms'] / theirs['total_ms']:.3f}")

if __name__ == "__main__":
    main()
