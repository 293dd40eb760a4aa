"""Face pipeline latency on CPU: detection + alignment + embedding, 1 and 5 faces per frame.

    CITYWATCH_TEST_DATA=../shared nice -n 10 .venv/bin/python benchmarks/faces.py --threads 2

Frames are 1280x720 grey canvases with 1 or 5 real celeb5 test faces (150x150) pasted in.
Reports the median over ``--runs`` frames: detection ms per frame, align+embed ms per face,
total ms per frame and the resulting frames per second. The seed's facenet-pytorch route
(MTCNN + InceptionResnetV1) is not compared: facenet-pytorch is not installed here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from node.face.align import align
from node.face.embed import MOBILEFACENET, Embedder
from node.face.models import ort_runner
from node.face.yunet import YuNetDetector


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("CITYWATCH_TEST_DATA", "../shared"))
    ap.add_argument("--threads", type=int, default=2, help="ORT intra-op threads per model.")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    root = Path(args.data)
    det = YuNetDetector(ort_runner(root / "models/yunet_n_320_320.onnx", args.threads))
    emb = Embedder(ort_runner(root / "models/MobileFaceNet.onnx", args.threads), MOBILEFACENET)
    tests = sorted((root / "datasets/faces/celeb5/test").glob("*/*"))
    faces = [cv2.resize(cv2.imread(str(p)), (150, 150)) for p in tests[:5]]
    print(f"CPU, ORT threads={args.threads}, frame 1280x720, median of {args.runs}")
    print("faces | detect ms | align+embed ms/face | total ms | FPS")
    for n in (1, 5):
        r = bench(det, emb, make_frame(faces[:n]), args.runs)
        print(f"{n} (found {r['faces']}) | {r['detect_ms']:.1f} | "
              f"{r['align_embed_ms_per_face']:.1f} | {r['total_ms']:.1f} | {r['fps']:.1f}")


if __name__ == "__main__":
    main()
