"""Evaluate the exported fire/smoke model exactly as the node runs it (numpy + ONNX Runtime).

* a YOLO split (``valid/``): per-class precision / recall / F1 at the operating threshold,
  ROC-AUC, 2x2 confusion per class and a 4-way (none / fire / smoke / both) confusion, and the
  share of fire images whose CAM box overlaps the labelled fire boxes with IoU >= 0.3;
* plain folders of images with no fire at all, and videos (frames sampled evenly from every clip):
  the share of frames whose score reaches a threshold (``fire`` or ``smoke``), per frame;
* latency of the FP32 and INT8 files measured in the same run (interleaved, batch 1).

No torch: runs in the node's environment (``citywatch-train eval fire``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.fire import metrics
from models.fire.data import (
    CLASSES,
    Sample,
    drone_sessions,
    hashes,
    list_images,
    load_negative_folder,
    load_weapon_negatives,
    load_yolo_split,
    near_duplicate_pairs,
    split_weapon_groups,
)
from node.boxes import iou
from node.fire.cam import CAM_REGIONS, CamRegion, cam_box
from node.fire.model import FireManifest, FireModel, OrtFireBackend
from node.fire.smoothing import KOfNAlarm, SmoothingParams
from node.inference.session import SessionOptions
from schemas.config.fire import FireConfig

IOU_HIT = 0.3
VIDEO_FRAMES_PER_CLIP = 40
KINDS = ("none", "fire", "smoke", "both")


@dataclass
class Scored:
    name: str
    scores: npt.NDArray[np.float32]
    target: npt.NDArray[np.float32] | None
    cam_iou_fire: float | None = None
    cam_iou_smoke: float | None = None


def load_model(
    manifest_path: Path, precision: str, threads: int = 1, classifier_cam: bool = False
) -> FireModel:
    manifest = FireManifest.load(manifest_path)
    file_name = manifest.files[precision]
    backend = OrtFireBackend(
        manifest_path.parent / file_name, cpu_options(threads), manifest.sha256.get(file_name)
    )
    return FireModel(manifest, backend, classifier_cam)


def cpu_options(threads: int) -> SessionOptions:
    """Evaluation runs on the CPU, whatever the machine has: the model card's figures are CPU
    figures, and a GPU (or TensorRT FP16) would move scores in the last decimals."""
    return SessionOptions(intra_op_threads=threads, providers=("cpu",))


def _read(path: Path) -> npt.NDArray[np.uint8]:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode image {path}")
    return np.asarray(img, dtype=np.uint8)


def cam_iou(
    cam: npt.NDArray[np.float32],
    width: int,
    height: int,
    boxes: Sequence[tuple[float, float, float, float]],
    cam_threshold: float,
    cam_region: CamRegion,
) -> float | None:
    """IoU of the map's box with the labelled boxes as the hit rate counts it: the better of the
    box enclosing them all and the best single box; None without labelled boxes."""
    if not boxes:
        return None
    box = cam_box(cam, width, height, cam_threshold, cam_region)
    norm = (box[0] / width, box[1] / height, box[2] / width, box[3] / height)
    return max(
        iou(norm, metrics.enclosing(boxes)), max(iou(norm, b) for b in boxes)
    )


def score_samples(
    model: FireModel,
    samples: Sequence[Sample],
    cam_threshold: float,
    cam_region: CamRegion = "peak",
) -> list[Scored]:
    fire_k = model.manifest.labels.index("fire")
    smoke_k = model.manifest.labels.index("smoke")
    out = []
    for s in samples:
        img = _read(s.path)
        pred = model.predict(img)
        h, w = img.shape[:2]
        ious = [
            cam_iou(model.localisation_map(pred.features, k), w, h, b, cam_threshold, cam_region)
            for k, b in ((fire_k, s.fire_boxes), (smoke_k, s.smoke_boxes))
        ]
        out.append(Scored(s.path.name, pred.scores, s.target, ious[0], ious[1]))
    return out


def _kind(fire: bool, smoke: bool) -> str:
    return "both" if fire and smoke else "fire" if fire else "smoke" if smoke else "none"


def classification_report(scored: Sequence[Scored], thresholds: dict[str, float]) -> dict[str, Any]:
    scores = np.stack([s.scores for s in scored])
    targets = np.stack([s.target for s in scored if s.target is not None]) > 0.5
    report: dict[str, Any] = {"images": len(scored), "per_class": {}}
    preds = np.zeros_like(targets)
    for k, name in enumerate(CLASSES):
        t = thresholds[name]
        preds[:, k] = scores[:, k] >= t
        p, r, f1 = metrics.prf1(targets[:, k], preds[:, k])
        auc = metrics.roc_auc(targets[:, k], scores[:, k])
        report["per_class"][name] = {
            "threshold": t,
            "positives": int(targets[:, k].sum()),
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f1, 4),
            "roc_auc": None if auc is None else round(auc, 4),
            "confusion": metrics.confusion(targets[:, k], preds[:, k]),
        }
    table = {t: dict.fromkeys(KINDS, 0) for t in KINDS}
    for tr, pr in zip(targets, preds, strict=True):
        table[_kind(bool(tr[0]), bool(tr[1]))][_kind(bool(pr[0]), bool(pr[1]))] += 1
    report["confusion_true_vs_predicted"] = {
        t: row for t, row in table.items() if any(row.values())
    }
    for key, ious in (
        ("cam_fire_iou", [s.cam_iou_fire for s in scored if s.cam_iou_fire is not None]),
        ("cam_smoke_iou", [s.cam_iou_smoke for s in scored if s.cam_iou_smoke is not None]),
    ):
        if ious:
            report[key] = {
                "images": len(ious),
                "hit_rate@0.3": round(float(sum(i >= IOU_HIT for i in ious)) / len(ious), 4),
                "median_iou": round(float(statistics.median(ious)), 4),
            }
    return report


def video_frames(path: Path, per_clip: int = VIDEO_FRAMES_PER_CLIP) -> Iterator[
    tuple[str, npt.NDArray[np.uint8]]
]:
    """``per_clip`` frames evenly spaced over the clip (every frame of a shorter one)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"cannot open video {path}")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, max(0, total - 1), min(per_clip, max(1, total))).astype(int))
    idx = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if idx in wanted:
                yield f"{path.name}#{idx}", np.asarray(frame, dtype=np.uint8)
            idx += 1
    finally:
        cap.release()


def smoothed_alarms(
    scores: Sequence[npt.NDArray[np.float32]],
    thresholds: dict[str, float],
    k: int = 3,
    n: int = 5,
    hysteresis: float = 0.15,
    hold_k: int = 1,
) -> dict[str, Any]:
    """Run an ordered score sequence through the node's k-of-n alarms (one per class): the share
    of frames during which an alarm is active and how many alarms rise (= events the node would
    raise)."""
    alarms = {
        c: KOfNAlarm(SmoothingParams(k, n, t, max(0.0, t - hysteresis), hold_k))
        for c, t in thresholds.items()
        if c in CLASSES
    }
    active_frames, rises = 0, 0
    was = dict.fromkeys(alarms, False)
    for frame_scores in scores:
        now = {c: a.update(float(frame_scores[CLASSES.index(c)])) for c, a in alarms.items()}
        rises += sum(1 for c in now if now[c] and not was[c])
        active_frames += any(now.values())
        was = now
    total = len(scores)
    return {
        "alarm_frame_rate": round(active_frames / total, 4) if total else None,
        "alarm_events": rises,
    }


def false_alarm_report(
    model: FireModel,
    frames: Iterator[tuple[str, npt.NDArray[np.uint8]]],
    thresholds: dict[str, float],
    sequence: bool = False,
) -> dict[str, Any]:
    """Per-frame false alarms (a frame whose score reaches a threshold) and, for an ordered
    ``sequence`` (a video), the node's k-of-n smoothed alarms over the same frames."""
    n = 0
    hits = {c: 0 for c in CLASSES}
    any_hit = 0
    worst: list[tuple[float, str]] = []
    seq: list[npt.NDArray[np.float32]] = []
    for name, img in frames:
        scores = model.predict(img).scores
        seq.append(scores)
        flags = {c: bool(scores[k] >= thresholds[c]) for k, c in enumerate(CLASSES)}
        n += 1
        for c, f in flags.items():
            hits[c] += f
        any_hit += any(flags.values())
        worst.append((float(scores.max()), name))
    worst.sort(reverse=True)
    out: dict[str, Any] = {
        "frames": n,
        "false_alarm_rate": round(any_hit / n, 4) if n else None,
        "per_class_rate": {c: round(h / n, 4) if n else None for c, h in hits.items()},
        "highest": [{"frame": nm, "score": round(s, 3)} for s, nm in worst[:5]],
    }
    if sequence:  # with the node's default smoothing (FireConfig)
        d = FireConfig()
        out["k_of_n"] = {
            "k": d.k,
            "n": d.n,
            "hysteresis": d.hysteresis,
            "hold_k": d.hold_k,
            **smoothed_alarms(seq, thresholds, d.k, d.n, d.hysteresis, d.hold_k),
        }
    return out


def latency_compare(
    files: dict[str, Path], input_size: int, runs: int = 60, threads: int = 1
) -> dict[str, Any]:
    """Median ms per image at batch 1, interleaving the files so both see the same CPU load."""
    sessions = {k: OrtFireBackend(p, cpu_options(threads)) for k, p in files.items()}
    x = np.random.default_rng(0).standard_normal((1, 3, input_size, input_size)).astype(np.float32)
    for s in sessions.values():
        for _ in range(5):
            s.run(x)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for _ in range(runs):
        for k, s in sessions.items():
            t0 = time.perf_counter()
            s.run(x)
            times[k].append((time.perf_counter() - t0) * 1000.0)
    out: dict[str, Any] = {
        k: {"median_ms": round(statistics.median(v), 2), "bytes": files[k].stat().st_size}
        for k, v in times.items()
    }
    if "fp32" in out and "int8" in out:
        out["int8_over_fp32"] = round(out["int8"]["median_ms"] / out["fp32"]["median_ms"], 3)
    out["threads"] = threads
    out["runs"] = runs
    return out


def evaluate(
    manifest_path: Path,
    precision: str,
    data: Path | None = None,
    negative_dirs: Sequence[Path] = (),
    videos: Sequence[Path] = (),
    cam_threshold: float | None = None,
    thresholds: dict[str, float] | None = None,
    heldout_drones: Path | None = None,
    heldout_weapons: Path | None = None,
    seed: int = 0,
    cam_region: CamRegion | None = None,
    classifier_cam: bool = False,
) -> dict[str, Any]:
    """Everything in the module docstring; ``heldout_drones`` is the drone image folder of which
    only the capture sessions kept out of training (``models.fire.data.drone_sessions``) count.
    ``classifier_cam``: boxes from the classifier's CAM even if the manifest has a localisation
    head."""
    model = load_model(manifest_path, precision, classifier_cam=classifier_cam)
    th = thresholds or dict(model.manifest.thresholds)
    result: dict[str, Any] = {"model": model.manifest.files[precision], "thresholds": th}
    if data is not None:
        split_dir = data / "valid" if (data / "valid" / "images").is_dir() else data
        samples = load_yolo_split(split_dir, str(split_dir))
        # the node's CAM settings unless told otherwise: the figure is what the node reports
        defaults = FireConfig()
        scored = score_samples(
            model,
            samples,
            cam_threshold if cam_threshold is not None else defaults.cam_threshold,
            cam_region if cam_region is not None else defaults.cam_region,
        )
        result["labelled"] = classification_report(scored, th)
        result["labelled"]["folder"] = str(split_dir)
        train_dir = data / "train"
        if split_dir != train_dir and (train_dir / "images").is_dir():
            result["labelled_unseen"] = unseen_report(scored, samples, train_dir, th)
    for folder in negative_dirs:
        frames = ((s.path.name, _read(s.path)) for s in load_negative_folder(folder))
        result.setdefault("negatives", {})[str(folder)] = false_alarm_report(model, frames, th)
    if heldout_drones is not None:
        drones = load_negative_folder(heldout_drones, "drones")
        _, kept_out = drone_sessions(drones)
        held = [d for d in drones if d.group in kept_out]
        result["heldout_drones"] = evaluate_negative_samples(model, held, th)
        result["heldout_drones"]["sessions"] = kept_out
    if heldout_weapons is not None:  # the weapons groups make_split(seed) kept out of training
        _, held_w = split_weapon_groups(load_weapon_negatives(heldout_weapons)[0], seed)
        result["heldout_weapons"] = evaluate_negative_samples(model, held_w, th)
    if videos:
        clips = [v for p in videos for v in (sorted(p.glob("*.mp4")) if p.is_dir() else [p])]
        result["videos"] = {
            c.name: false_alarm_report(model, video_frames(c), th, sequence=True) for c in clips
        }
        rows = list(result["videos"].values())
        total = sum(r["frames"] for r in rows)
        alarms = sum(round(r["false_alarm_rate"] * r["frames"]) for r in rows)
        smoothed = sum(round(r["k_of_n"]["alarm_frame_rate"] * r["frames"]) for r in rows)
        result["videos_total"] = {
            "frames": total,
            "false_alarm_rate": round(alarms / total, 4) if total else None,
            "k_of_n_alarm_frame_rate": round(smoothed / total, 4) if total else None,
            "k_of_n_alarm_events": sum(r["k_of_n"]["alarm_events"] for r in rows),
        }
    return result


def unseen_report(
    scored: Sequence[Scored],
    samples: Sequence[Sample],
    train_dir: Path,
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """The classification report over the images without a near-duplicate (dHash within
    ``DUP_BITS``) in ``train_dir``: what a model that fitted every ``train/`` frame has not seen."""
    train = load_yolo_split(train_dir, str(train_dir))
    seen = {j for _, j in near_duplicate_pairs(hashes(train), hashes(samples))}
    kept = [s for k, s in enumerate(scored) if k not in seen]
    report: dict[str, Any] = {"images": len(kept), "with_near_duplicate_in_train": len(seen)}
    if kept:
        report.update(classification_report(kept, thresholds))
    return report


def evaluate_negative_samples(
    model: FireModel, samples: Sequence[Sample], thresholds: dict[str, float]
) -> dict[str, Any]:
    frames = ((s.path.name, _read(s.path)) for s in samples)
    return false_alarm_report(model, frames, thresholds)


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2)


def image_paths(folder: Path) -> list[Path]:
    return list_images(folder)


CAM_SWEEP_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9)


def cam_sweep(
    model: FireModel,
    samples: Sequence[Sample],
    thresholds: Sequence[float] = CAM_SWEEP_THRESHOLDS,
    regions: Sequence[CamRegion] = CAM_REGIONS,
) -> dict[str, Any]:
    """IoU >= 0.3 hit rate of the fire CAM box for every (region rule, threshold) on the fire
    images of ``samples``, against two references: the box enclosing all labelled fire boxes
    (``union``) and the best-matching single fire box (``best``). The CAM is computed once per
    image, so the sweep costs one inference per image."""
    fire_k = model.manifest.labels.index("fire")
    cams: list[tuple[npt.NDArray[np.float32], int, int, Sample]] = []
    for s in samples:
        if not s.fire_boxes:
            continue
        img = _read(s.path)
        pred = model.predict(img)
        cam = model.localisation_map(pred.features, fire_k)
        cams.append((cam, img.shape[1], img.shape[0], s))
    rows = []
    for region in regions:
        for t in thresholds:
            union_hits = best_hits = either_hits = 0
            for cam, w, h, s in cams:
                b = cam_box(cam, w, h, t, region)
                norm = (float(b[0]) / w, float(b[1]) / h, float(b[2]) / w, float(b[3]) / h)
                union = iou(norm, metrics.enclosing(s.fire_boxes)) >= IOU_HIT
                best = max(iou(norm, fb) for fb in s.fire_boxes) >= IOU_HIT
                union_hits += union
                best_hits += best
                either_hits += union or best  # what score_samples' hit rate counts
            n = max(1, len(cams))
            rows.append({
                "region": region,
                "threshold": t,
                "hit_rate_union": round(union_hits / n, 4),
                "hit_rate_best_box": round(best_hits / n, 4),
                "hit_rate": round(either_hits / n, 4),
            })
    return {"fire_images": len(cams), "rows": rows}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.fire.evaluate --cam-sweep``: the CAM rule sweep where the rule is
    chosen (``--on val``: the val split, fire@2; ``--on train``: every ``train/`` image with fire
    boxes, fire@3) and on ``valid/`` (reported, never used to choose)."""
    import argparse

    from models.fire.data import make_split

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--cam-sweep", action="store_true", required=True)
    p.add_argument("--data", type=Path, required=True, help="fire_smoke folder")
    p.add_argument("--negatives", type=Path, default=None, help="drone images")
    p.add_argument("--weapons", type=Path, default=None, help="weapons images")
    p.add_argument("--manifest", type=Path, default=None)
    p.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--classifier-cam",
        action="store_true",
        help="sweep the classifier's CAM even if the manifest has a localisation head",
    )
    p.add_argument(
        "--on",
        choices=("val", "train"),
        default="val",
        help="val: the val split and valid/ (fire@2); train: every train/ image with fire boxes",
    )
    a = p.parse_args(argv)
    from node.fire.model import DEFAULT_MANIFEST

    model = load_model(a.manifest or DEFAULT_MANIFEST, a.precision, classifier_cam=a.classifier_cam)
    test = load_yolo_split(a.data / "valid", "fire_smoke/valid")
    if a.on == "train":  # fire@3: no fire positives left in val; the rule is chosen on train/
        chosen_on = load_yolo_split(a.data / "train", "fire_smoke/train")
    else:
        chosen_on = make_split(
            a.data, a.negatives, seed=a.seed, disjoint_from_test=False, weapons_images=a.weapons
        ).val
    print(dumps({a.on: cam_sweep(model, chosen_on), "valid": cam_sweep(model, test)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
