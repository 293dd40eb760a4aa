"""The seed's workflow, step 1: one video per person → aligned face crops.

    python -m models.face.build_dataset --videos VIDEOS_DIR --out CROPS_DIR [--every 5]

``VIDEOS_DIR/<person>.mp4`` (one video per person) becomes ``CROPS_DIR/<person>/<frame>.jpg``:
every ``--every``-th frame is searched with YuNet, frames with exactly one face that passes the
quality checks are aligned to 112x112 and written. Step 2 enrolls the tree:
``citywatch faces --gallery G enroll --folder CROPS_DIR``; step 3 evaluates it:
``citywatch eval faces --gallery CROPS_DIR --probes PROBES_DIR``. No torch needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from node.face.analytic import build_engine
from node.face.engine import FaceEngine
from schemas.config.faces import FacesConfig

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def crops_from_video(engine: FaceEngine, video: Path, out: Path, every: int, limit: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    index = written = 0
    try:
        while written < limit:
            ok, frame = cap.read()
            if not ok:
                break
            index += 1
            if (index - 1) % every:
                continue
            faces = engine.analyse(frame)
            if len(faces) == 1 and faces[0].quality.ok:
                cv2.imwrite(str(out / f"{video.stem}_{index:06d}.jpg"), faces[0].crop)
                written += 1
    finally:
        cap.release()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--videos", required=True, help="Folder of <person>.<ext> videos.")
    ap.add_argument("--out", required=True, help="Output crops folder.")
    ap.add_argument("--models", help="Folder with the .onnx files (default: env).")
    ap.add_argument("--every", type=int, default=5, help="Use every N-th frame.")
    ap.add_argument("--limit", type=int, default=40, help="Most crops per person.")
    args = ap.parse_args()
    engine = build_engine(FacesConfig(), models_dir=args.models)
    for video in sorted(Path(args.videos).iterdir()):
        if video.suffix.lower() in VIDEO_SUFFIXES:
            n = crops_from_video(engine, video, Path(args.out) / video.stem, args.every,
                                 args.limit)
            print(f"{video.stem}: {n} crops")


if __name__ == "__main__":
    main()
