"""Detector evaluation: COCO-style AP per class, P/R at the operating threshold, FPs per image.

Numpy + ONNX Runtime only (``citywatch-train eval suspect`` runs in the node's environment).

* AP: predictions of a class sorted by score over the whole set, greedily matched to the unmatched
  ground truth box of highest IoU at or above the threshold (COCO's rule); precision made
  monotone, sampled at 101 recall points. mAP@0.5:0.95 averages the thresholds 0.50..0.95.
* P/R at the operating threshold: the same matching at IoU 0.5 with only detections scoring at
  least ``threshold``.
* False positives per image on object-free frames (e.g. street videos): detections of the
  suspect classes (``count_labels``) over the threshold, per frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from models.suspect.dataset import LabeledImage
from node.boxes import box_iou

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


@dataclass
class Prediction:
    boxes: npt.NDArray[np.float32]  # (N, 4) xyxy pixels
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]


@dataclass
class Truth:
    boxes: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int64]


def _match(
    preds: Sequence[Prediction], truths: Sequence[Truth], cls: int, thr: float, min_score: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], int]:
    """Scores and TP flags of all class-``cls`` detections (sorted by score), and #GT."""
    scores, tps = [], []
    n_gt = 0
    for p, t in zip(preds, truths, strict=True):
        gt = t.boxes[t.class_ids == cls]
        n_gt += len(gt)
        sel = (p.class_ids == cls) & (p.scores >= min_score)
        boxes, sc = p.boxes[sel], p.scores[sel]
        order = np.argsort(-sc, kind="stable")
        boxes, sc = boxes[order], sc[order]
        ious = box_iou(boxes, gt)
        taken = np.zeros(len(gt), np.bool_)
        for i in range(len(boxes)):
            cand = np.where(taken, -1.0, ious[i]) if len(gt) else np.zeros(0)
            j = int(np.argmax(cand)) if len(gt) else -1
            ok = j >= 0 and cand[j] >= thr
            if ok:
                taken[j] = True
            tps.append(ok)
        scores.extend(sc.tolist())
    order = np.argsort(-np.asarray(scores, np.float32), kind="stable")
    return (
        np.asarray(scores, np.float32)[order],
        np.asarray(tps, np.bool_)[order],
        n_gt,
    )


def average_precision(tp: npt.NDArray[np.bool_], n_gt: int) -> float:
    """COCO 101-point interpolated AP of score-sorted TP flags."""
    if n_gt == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(tp) + 1)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    out = 0.0
    for r in np.linspace(0, 1, 101):
        idx = np.searchsorted(recall, r, side="left")
        out += precision[idx] if idx < len(precision) else 0.0
    return out / 101


def detection_metrics(
    preds: Sequence[Prediction],
    truths: Sequence[Truth],
    classes: Sequence[str],
    threshold: float,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(classes):
        aps = []
        n_gt = 0
        for thr in IOU_THRESHOLDS:
            _, tp, n_gt = _match(preds, truths, c, float(thr), 0.0)
            aps.append(average_precision(tp, n_gt))
        _, tp_op, _ = _match(preds, truths, c, 0.5, threshold)
        tp_count = int(tp_op.sum())
        out[name] = {
            "gt": n_gt,
            # no ground truth: AP is undefined (null in JSON, not NaN)
            "ap50": round(aps[0], 4) if n_gt else None,
            "ap50_95": round(float(np.mean(aps)), 4) if n_gt else None,
            "precision": round(tp_count / len(tp_op), 4) if len(tp_op) else None,
            "recall": round(tp_count / n_gt, 4) if n_gt else None,
        }
    return out


def truth_of(item: LabeledImage, hw: tuple[int, int]) -> Truth:
    h, w = hw
    return Truth(item.boxes * np.asarray([w, h, w, h], np.float32), item.class_ids)


# --- running an ONNX detector --------------------------------------------------------------------


class OnnxDetector:
    """An ONNX YOLOX (sigmoid in graph) with its label list; maps labels to a class list."""

    def __init__(self, path: Path, labels: Sequence[str], threads: int = 1) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_hw = (int(inp.shape[2]), int(inp.shape[3]))
        self.labels = list(labels)

    def raw(self, tensor: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.asarray(self.session.run(None, {self.input_name: tensor})[0], np.float32)

    def predict(
        self, image: npt.NDArray[Any], classes: Sequence[str], score_threshold: float = 0.01
    ) -> Prediction:
        from node.detect.preprocess import preprocess

        lb = preprocess(image, self.input_hw)
        return raw_to_prediction(
            self.raw(lb.tensor), self.input_hw, lb.ratio, lb.frame_hw, self.labels, classes,
            score_threshold,
        )  # fmt: skip


def strides_for(rows: int, input_hw: tuple[int, int]) -> tuple[int, ...]:
    """YOLOX strides for an output of ``rows`` rows: (8, 16, 32) once per grid, so a merged
    two-head export (``MergedDetector``: twice the rows) reads as (8, 16, 32, 8, 16, 32), what
    its manifest says."""
    from node.detect.yolox import STRIDES

    cells = sum((input_hw[0] // s) * (input_hw[1] // s) for s in STRIDES)
    if rows % cells:
        raise ValueError(f"{rows} output rows are not a multiple of the {cells} grid cells")
    return tuple(STRIDES) * (rows // cells)


def raw_to_prediction(
    raw: npt.NDArray[np.float32],
    input_hw: tuple[int, int],
    ratio: float,
    frame_hw: tuple[int, int],
    labels: Sequence[str],
    classes: Sequence[str],
    score_threshold: float = 0.01,
) -> Prediction:
    """Decode + NMS with the node's own post-processing, then keep labels in ``classes``."""
    from node.detect.yolox import postprocess

    dets = postprocess(
        raw, input_hw=input_hw, ratio=ratio, frame_hw=frame_hw, labels=labels,
        score_threshold=score_threshold, iou_threshold=0.45,
        strides=strides_for(raw.shape[-2], input_hw),
    )  # fmt: skip
    names = [str(n) for n in dets.labels]
    keep = np.asarray([n in classes for n in names], np.bool_)
    ids = np.asarray([classes.index(n) for n, k in zip(names, keep, strict=True) if k], np.int64)
    return Prediction(dets.xyxy[keep], dets.score[keep], ids)


def evaluate_images(
    detector: OnnxDetector,
    items: Sequence[LabeledImage],
    classes: Sequence[str],
    threshold: float,
) -> dict[str, dict[str, Any]]:
    preds, truths = [], []
    for it in items:
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read {it.image}")
        preds.append(detector.predict(img, classes))
        truths.append(truth_of(it, img.shape[:2]))
    return detection_metrics(preds, truths, classes, threshold)


def video_frames(path: Path, every: int) -> Iterable[npt.NDArray[Any]]:
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            if i % every == 0:
                yield frame
            i += 1
    finally:
        cap.release()


def false_positives(
    detector: OnnxDetector,
    frames: Iterable[npt.NDArray[Any]],
    count_labels: Sequence[str],
    threshold: float,
) -> dict[str, Any]:
    """Detections of ``count_labels`` at or over ``threshold`` per object-free frame."""
    n, per_label = 0, dict.fromkeys(count_labels, 0)
    scores: list[float] = []
    for frame in frames:
        p = detector.predict(frame, list(count_labels), threshold)
        n += 1
        scores += p.scores.tolist()
        for c in p.class_ids:
            per_label[count_labels[int(c)]] += 1
    total = sum(per_label.values())
    # the same frames at stricter thresholds: what a per-label threshold would buy
    stricter = {f"{t:.1f}": round(sum(s >= t for s in scores) / max(n, 1), 4)
                for t in (0.4, 0.5, 0.6, 0.7) if t > threshold}  # fmt: skip
    return {"frames": n, "fp": total, "fp_per_image": round(total / max(n, 1), 4),
            "per_label": per_label, "fp_per_image_at": stricter}  # fmt: skip


# --- the whole evaluation (``citywatch-train eval suspect``) -----------------------------------

SUSPECT_COUNT = ("pistol", "long_gun", "knife", "drone")


def frames_of(path: Path, every: int) -> Iterable[npt.NDArray[Any]]:
    """Frames of a video, of every video in a folder, or the images of a folder."""
    from models.suspect.dataset import list_images

    if path.is_file():
        yield from video_frames(path, every)
        return
    videos = sorted(p for p in path.iterdir() if p.suffix.lower() in (".mp4", ".avi", ".mkv"))
    for v in videos:
        yield from video_frames(v, every)
    for img in list_images(path) if not videos else []:
        frame = cv2.imread(str(img), cv2.IMREAD_COLOR)
        if frame is not None:
            yield frame


def person_recall_vs_teacher(
    student: OnnxDetector, teacher: OnnxDetector, items: Sequence[LabeledImage], threshold: float
) -> dict[str, Any]:
    """Share of the teacher's confident people (score >= 0.5) the student finds (IoU >= 0.5)."""
    found = total = 0
    for it in items:
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read {it.image}")
        ref = teacher.predict(img, ["person"], 0.5).boxes
        got = student.predict(img, ["person"], threshold).boxes
        ious = box_iou(ref, got)
        total += len(ref)
        found += int((ious.max(1) >= 0.5).sum()) if ious.size else 0
    return {"teacher_people": total, "found": found,
            "recall": round(found / total, 4) if total else None}  # fmt: skip


def person_agreement(
    student: OnnxDetector, teacher: OnnxDetector, items: Sequence[LabeledImage]
) -> dict[str, Any]:
    """Does the student report exactly the teacher's people? All person detections scoring >=
    0.01 after the node's NMS, matched one-to-one by IoU >= 0.99: the share of the teacher's
    people the student repeats, the student's extra ones, the worst score difference."""
    n_ref = same = extra = 0
    worst = 0.0
    for it in items:
        img = cv2.imread(str(it.image), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read {it.image}")
        ref = teacher.predict(img, ["person"], 0.01)
        got = student.predict(img, ["person"], 0.01)
        ious = box_iou(ref.boxes, got.boxes)
        n_ref += len(ref.boxes)
        hit = 0
        for i in range(len(ref.boxes)):
            j = int(np.argmax(ious[i])) if ious.shape[1] else -1
            if j >= 0 and ious[i, j] >= 0.99:
                hit += 1
                ious[:, j] = -1.0
                worst = max(worst, abs(float(ref.scores[i]) - float(got.scores[j])))
        same += hit
        extra += len(got.boxes) - hit
    return {"baseline_people": n_ref, "identical": same, "extra": extra,
            "max_abs_score_diff": worst}  # fmt: skip


def evaluate_suspect(
    model: Path,
    labels: Sequence[str],
    *,
    threshold: float,
    shared: Path | None = None,
    data: Path | None = None,
    data_classes: Sequence[str] = (),
    negatives: Sequence[Path] = (),
    every: int = 10,
    baseline: Path | None = None,
    person_gt: Path | None = None,
    split: str = "test",
) -> dict[str, Any]:
    """Held-out splits (``shared``) or a YOLO folder (``data``); FPs on object-free frames; the
    baseline (COCO YOLOX-nano) measured on the same frames for person and knife. ``split``
    picks the ``shared`` split: ``test`` (held out) or ``val`` (for choosing, e.g. an input
    size, without touching the test split)."""
    from models.suspect.dataset import read_csv, read_yolo
    from node.detect.labels import COCO80

    det = OnnxDetector(model, labels)
    classes = list(dict.fromkeys(labels))
    base = OnnxDetector(baseline, COCO80) if baseline else None
    report: dict[str, Any] = {"model": str(model), "threshold": threshold,
                              "input": list(det.input_hw)}  # fmt: skip
    if shared is not None:
        report["split"] = split
    sets: dict[str, list[LabeledImage]] = {}
    if shared is not None:
        from models.suspect.splits import CLASSES, make_splits

        classes = list(CLASSES)
        if split not in ("test", "val"):
            raise ValueError(f"split must be 'test' or 'val', got {split!r}")
        sets = {f"{src}/{split}": parts[split] for src, parts in make_splits(shared).items()}
    if data is not None:
        ds = read_yolo(data, list(data_classes))
        same = {c: c for c in ds.classes}
        from models.suspect.dataset import remap

        sets[str(data)] = remap(ds, {c: same[c] if c in classes else None for c in ds.classes},
                                classes).items  # fmt: skip
    for name, items in sets.items():
        report.setdefault("heldout", {})[name] = {
            "images": len(items),
            "per_class": evaluate_images(det, items, classes, threshold),
        }
        if base is not None:
            report["heldout"][name]["person_recall_of_teacher"] = person_recall_vs_teacher(
                det, base, items, threshold
            )
            report["heldout"][name]["person_agreement"] = person_agreement(det, base, items)
            # the COCO baseline knows person and knife only: its other classes score 0
            base_m = evaluate_images(base, items, classes, threshold)
            report["heldout"][name]["baseline"] = {
                k: v for k, v in base_m.items() if k in ("person", "knife")
            }
    if person_gt is not None:
        gt = read_csv(person_gt, person_gt.parent if shared is None else shared / "datasets/images")
        report["person_gt"] = {"images": len(gt.items), "model": evaluate_images(
            det, gt.items, ["person"], threshold)["person"]}  # fmt: skip
        if base is not None:
            report["person_gt"]["baseline"] = evaluate_images(base, gt.items, ["person"],
                                                              threshold)["person"]  # fmt: skip
            report["person_gt"]["agreement"] = person_agreement(det, base, gt.items)
    for neg in negatives:
        count = [c for c in SUSPECT_COUNT if c in classes]
        entry = {"model": false_positives(det, frames_of(neg, every), count, threshold)}
        if base is not None:
            entry["baseline_knife"] = false_positives(base, frames_of(neg, every), ["knife"],
                                                      threshold)  # fmt: skip
        report.setdefault("negatives", {})[str(neg)] = entry
    return report
