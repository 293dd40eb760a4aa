"""How good are the node's explanations, on labelled boxes the models never trained on.

* Fire/smoke: ``fire_smoke/valid`` images without a near-duplicate in ``train/`` (the fire model
  card's unseen subset: dHash within ``DUP_BITS``); one case per (image, class with a box), the
  class is the target whatever the model scored.
* Weapons: the suspect detector's held-out ``test`` split of ``weapons/train`` (by group, seed 0,
  ``models.suspect.splits``); one case per image with a pistol, long gun or knife box that the
  detector finds (score >= 0.25, same class, IoU >= 0.5): D-RISE explains a detection. Images
  where it finds none are counted, not explained.

Per case and method: the pointing game (strict: the map's peak inside a labelled box of the
target class), deletion and insertion AUC on the model's score (fire: probability; detector:
D-RISE's similarity to the explained detection), and the wall time. Baselines: the image centre
as the peak, and the share of the image the boxes cover (a uniformly random peak's hit rate).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from node.explain.detector import detector_subject
from node.explain.explainer import DEFAULT_BUDGET, Explainer, ExplainModels, ExplainRequest
from node.explain.fire import fire_subject
from node.explain.maps import Explanation
from node.explain.metrics import deletion_insertion, pointing_hit
from node.explain.subject import Subject
from schemas.explain import ExplainMethod, ExplainModel

FIRE_METHODS: tuple[ExplainMethod, ...] = ("cam", "gradcam", "rise", "occlusion", "lime")
DETECTOR_METHODS: tuple[ExplainMethod, ...] = ("drise", "occlusion")
FACE_METHODS: tuple[ExplainMethod, ...] = ("occlusion", "rise", "lime")
WEAPON_CLASSES = ("pistol", "long_gun", "knife")
MATCH_IOU = 0.5
DETECT_SCORE = 0.25
SEED = 0
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Case:
    """One explanation to make and score: the target class, the labelled boxes of that class
    (image pixels) and, for a detector, the detection to explain."""

    path: Path
    model: ExplainModel
    target: str
    boxes: tuple[Box, ...]
    detection: Box | None = None

    def image(self) -> npt.NDArray[np.uint8]:
        img = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read {self.path}")
        return np.asarray(img, dtype=np.uint8)


@dataclass
class Row:
    path: str
    model: str
    method: str
    target: str
    hit: bool
    peak: tuple[int, int]
    deletion_auc: float
    insertion_auc: float
    ms: float
    masks: int


@dataclass
class Evaluation:
    rows: list[Row] = field(default_factory=list)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _pixels(box: Sequence[float], w: int, h: int) -> Box:
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def fire_cases(shared: Path) -> list[Case]:
    from models.fire.data import hashes, load_yolo_split, near_duplicate_pairs

    root = shared / "datasets" / "fire_smoke"
    valid = load_yolo_split(root / "valid", "valid")
    train = load_yolo_split(root / "train", "train")
    seen = {j for _, j in near_duplicate_pairs(hashes(train), hashes(valid))}
    cases = []
    for k, s in enumerate(valid):
        if k in seen:
            continue
        h, w = cv2.imread(str(s.path)).shape[:2]
        for label, boxes in (("fire", s.fire_boxes), ("smoke", s.smoke_boxes)):
            if boxes:
                cases.append(Case(s.path, "fire", label, tuple(_pixels(b, w, h) for b in boxes)))
    return cases


def weapon_cases(
    shared: Path, detect: Callable[[npt.NDArray[np.uint8]], Any], limit: int | None
) -> tuple[list[Case], dict[str, int]]:
    """Held-out weapon images (sorted by path, the first ``limit`` with a weapon box) and the
    detection each case explains; also how many images had no matching detection."""
    from models.suspect.splits import CLASSES, make_splits
    from node.boxes import box_iou

    test = sorted(make_splits(shared)["weapons"]["test"], key=lambda it: str(it.image))
    cases: list[Case] = []
    images = undetected = 0
    for item in test:
        labels = [CLASSES[int(c)] for c in item.class_ids]
        if not any(lbl in WEAPON_CLASSES for lbl in labels):
            continue
        if limit is not None and images >= limit:
            break
        images += 1
        img = cv2.imread(str(item.image), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        found = detect(np.asarray(img, np.uint8))
        explained = False
        for label in sorted(set(labels) & set(WEAPON_CLASSES)):
            gt = np.asarray([_pixels(b, w, h) for b, lbl in zip(item.boxes, labels, strict=True)
                             if lbl == label], np.float32)  # fmt: skip
            mine = [i for i in range(len(found)) if str(found.labels[i]) == label]
            if not mine:
                continue
            ious = box_iou(found.xyxy[mine], gt).max(axis=1)
            good = [(float(found.score[i]), i) for i, iou in zip(mine, ious, strict=True)
                    if iou >= MATCH_IOU]  # fmt: skip
            if good:
                best = max(good)[1]
                det = tuple(float(v) for v in found.xyxy[best])
                boxes = tuple(tuple(float(v) for v in b) for b in gt)
                cases.append(Case(item.image, "suspect", label, boxes, det))  # type: ignore[arg-type]
                explained = True
        undetected += not explained
    return cases, {"weapon_images": images, "weapon_images_without_detection": undetected}


def face_cases(shared: Path) -> list[Case]:
    """celeb5's one test image per identity; the identity is the target (enrolled from its
    ``train/`` images by ``face_gallery``). No labelled boxes: the pointing game there is the
    peak inside the face the detector found (a sanity check, not a held-out label)."""
    root = shared / "datasets" / "faces" / "celeb5" / "test"
    return [Case(p, "faces", p.parent.name, ()) for p in sorted(root.glob("*/*.jpg"))]


def face_gallery(engine: Any, shared: Path) -> Any:
    """Identities enrolled from celeb5 ``train/``: the largest face of each image, embedded."""
    from node.explain.faces import Identities

    names: list[str] = []
    rows: list[npt.NDArray[np.float32]] = []
    for path in sorted((shared / "datasets" / "faces" / "celeb5" / "train").glob("*/*.jpg")):
        faces = [f for f in engine.analyse(cv2.imread(str(path)), embed_all=True)
                 if f.embedding is not None]  # fmt: skip
        if faces:
            best = max(faces, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
            names.append(path.parent.name)
            rows.append(best.embedding)
    return Identities(names, np.stack(rows))


def _target_box(target: str) -> Box:
    """``name@[x1, y1, x2, y2]`` -> the box."""
    x1, y1, x2, y2 = (float(v) for v in target.split("@", 1)[1].strip("[]").split(","))
    return (x1, y1, x2, y2)


def metric_subject(models: ExplainModels, case: Case, image: npt.NDArray[np.uint8]
                   ) -> tuple[Subject, npt.NDArray[np.bool_] | None]:  # fmt: skip
    """The subject the curves are measured on (probabilities for fire) and its valid pixels."""
    if case.model == "fire":
        model = _need(models.fire)()
        k = list(model.manifest.labels).index(case.target)
        return fire_subject(model, image, k, logits=False), None
    if case.model == "faces":
        from node.explain.faces import face_subject

        engine, gallery = _need(models.faces)()
        return face_subject(engine, gallery, image, case.target), None
    session = models.detectors[case.model]()
    subject = detector_subject(session, case.model, image, case.target, case.detection)
    ratio = subject.size[0] / max(image.shape[:2])  # square canvas, top-left letterbox
    valid = np.zeros(subject.size, bool)
    valid[: max(1, int(image.shape[0] * ratio)), : max(1, int(image.shape[1] * ratio))] = True
    return subject, valid


def evaluate(
    explainer: Explainer,
    models: ExplainModels,
    cases: Iterable[Case],
    methods: dict[str, Sequence[ExplainMethod]],
    progress: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    ev = Evaluation()
    centre_hits: dict[str, list[bool]] = {}
    cover: dict[str, list[float]] = {}
    for case in cases:
        image = case.image()
        h, w = image.shape[:2]
        subject, valid = metric_subject(models, case, image)
        if case.model == "faces":  # the face the subject explains
            case = dataclasses.replace(case, boxes=(_target_box(subject.target),))
        centre_hits.setdefault(case.model, []).append(pointing_hit((w // 2, h // 2), case.boxes))
        cover.setdefault(case.model, []).append(_coverage(case.boxes, w, h))
        for method in methods[case.model]:
            req = _request(case, method)
            start = time.perf_counter()
            e = explainer.explain(image, req)
            ms = (time.perf_counter() - start) * 1000.0
            curves = deletion_insertion(subject, e.working, valid=valid)
            ev.rows.append(_row(case, e, curves.deletion_auc, curves.insertion_auc, ms))
            r = ev.rows[-1]
            progress(f"{case.path.name} {case.target} {method}: hit={r.hit} "
                     f"del={r.deletion_auc:.3f} ins={r.insertion_auc:.3f} {ms:.0f} ms")  # fmt: skip
    for model, hits in centre_hits.items():
        ev.baselines[model] = {
            "centre_pointing": round(float(np.mean(hits)), 4),
            "random_pointing": round(float(np.mean(cover[model])), 4),
        }
    return ev


def _request(case: Case, method: ExplainMethod) -> ExplainRequest:
    if case.model == "faces":
        return ExplainRequest(case.model, method, identity=case.target, seed=SEED)
    return ExplainRequest(case.model, method, case.target, box=case.detection, seed=SEED)


def _need(source: Callable[[], Any] | None) -> Callable[[], Any]:
    if source is None:
        raise ValueError("the explainer has no fire model")
    return source


def _coverage(boxes: Sequence[Box], w: int, h: int) -> float:
    mask = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in boxes:
        mask[max(0, int(y1)) : int(np.ceil(y2)), max(0, int(x1)) : int(np.ceil(x2))] = True
    return float(mask.mean())


def _row(case: Case, e: Explanation, deletion: float, insertion: float, ms: float) -> Row:
    return Row(
        path=case.path.name, model=case.model, method=e.method, target=case.target,
        hit=pointing_hit(e.peak, case.boxes), peak=e.peak, deletion_auc=round(deletion, 4),
        insertion_auc=round(insertion, 4), ms=round(ms, 1), masks=e.masks,
    )  # fmt: skip


def summary(ev: Evaluation) -> list[dict[str, Any]]:
    """One line per (model, method): cases, pointing %, mean AUCs, median ms, passes."""
    out = []
    keys = sorted({(r.model, r.method) for r in ev.rows}, key=lambda k: (k[0], _order(k[1])))
    for model, method in keys:
        rows = [r for r in ev.rows if (r.model, r.method) == (model, method)]
        per_class = {}
        for target in sorted({r.target for r in rows}):
            sub = [r.hit for r in rows if r.target == target]
            per_class[target] = f"{sum(sub)}/{len(sub)}"
        out.append({
            "model": model, "method": method, "cases": len(rows),
            "pointing": round(float(np.mean([r.hit for r in rows])), 4),
            "pointing_per_class": per_class,
            "deletion_auc": round(float(np.mean([r.deletion_auc for r in rows])), 4),
            "insertion_auc": round(float(np.mean([r.insertion_auc for r in rows])), 4),
            "median_ms": round(float(np.median([r.ms for r in rows])), 1),
            "masks": int(np.median([r.masks for r in rows])),
        })  # fmt: skip
    return out


def _order(method: str) -> int:
    order = ("cam", "gradcam", "rise", "drise", "occlusion", "lime")
    return order.index(method) if method in order else len(order)


def markdown(ev: Evaluation) -> str:
    lines = []
    for model in sorted({r.model for r in ev.rows}):
        lines += [f"#### {model}", "",
                  "| method | cases | pointing game | per class | deletion AUC (lower is better) "
                  "| insertion AUC (higher is better) | median ms | forward passes |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for s in summary(ev):
            if s["model"] != model:
                continue
            per = ", ".join(f"{k} {v}" for k, v in s["pointing_per_class"].items())
            lines.append(
                f"| {s['method']} | {s['cases']} | {s['pointing'] * 100:.1f}% | {per} | "
                f"{s['deletion_auc']:.3f} | {s['insertion_auc']:.3f} | {s['median_ms']:.0f} | "
                f"{s['masks']} |"
            )
        b = ev.baselines.get(model, {})
        if b:
            centre, random = b["centre_pointing"] * 100, b["random_pointing"] * 100
            lines += ["", f"Baselines: the image centre as the peak {centre:.1f}%; a uniformly "
                      f"random peak {random:.1f}% (the share of the image the boxes cover, mean "
                      "over cases).", ""]  # fmt: skip
    return "\n".join(lines)


def disagreements(ev: Evaluation, model: str, limit: int = 4) -> list[tuple[str, str]]:
    """(image, target) cases where some methods hit and others miss, most split first."""
    by_case: dict[tuple[str, str], list[bool]] = {}
    for r in ev.rows:
        if r.model == model:
            by_case.setdefault((r.path, r.target), []).append(r.hit)
    split = [(abs(sum(h) - len(h) / 2), k) for k, h in by_case.items() if 0 < sum(h) < len(h)]
    return [k for _, k in sorted(split)[:limit]]


def figure(
    explainer: Explainer, cases: Sequence[Case], picks: Sequence[tuple[str, str]],
    methods: Sequence[ExplainMethod], tile: int = 200,
) -> npt.NDArray[np.uint8]:  # fmt: skip
    """A grid: one row per picked case (the image with its labelled boxes, then each method's
    overlay with its peak and a green/red border for hit/miss)."""
    from node.explain.report import overlay_image

    rows = []
    for name, target in picks:
        case = next(c for c in cases if c.path.name == name and c.target == target)
        image = case.image()
        w = image.shape[1]
        first = image.copy()
        for x1, y1, x2, y2 in case.boxes:
            cv2.rectangle(first, (int(x1), int(y1)), (int(x2), int(y2)), (255, 255, 255), 3)
        tiles = [_tile(first, f"{target} (labelled)", None, tile)]
        for method in methods:
            req = ExplainRequest(case.model, method, target, box=case.detection, seed=SEED)
            e = explainer.explain(image, req)
            shown = overlay_image(image, e)
            cv2.circle(shown, e.peak, max(4, w // 60), (255, 255, 255), -1)
            tiles.append(_tile(shown, method, pointing_hit(e.peak, case.boxes), tile))
        rows.append(np.hstack(tiles))
    return np.vstack(rows) if rows else np.zeros((1, 1, 3), np.uint8)


def _tile(image: npt.NDArray[np.uint8], label: str, hit: bool | None, side: int
          ) -> npt.NDArray[np.uint8]:  # fmt: skip
    out = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    if hit is not None:
        cv2.rectangle(out, (0, 0), (side - 1, side - 1), (0, 200, 0) if hit else (0, 0, 220), 4)
    cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3)
    cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return np.asarray(out, np.uint8)


def dump(ev: Evaluation, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "summary": summary(ev), "baselines": ev.baselines, "counts": ev.counts,
        "budgets": DEFAULT_BUDGET, "seed": SEED, "rows": [asdict(r) for r in ev.rows],
    }, indent=1))  # fmt: skip
