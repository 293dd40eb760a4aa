"""A YOLOX-family detector (``objects``, ``suspect``) as a D-RISE subject for one box.

The working image is the letterboxed input canvas (the frame at the top-left, pad grey), so masks
act on exactly the pixels the detector sees; the working map's frame part scales back onto the
frame. Removed pixels take the pad value, which the detector already reads as "nothing here".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from node.boxes import box_iou
from node.detect.labels import suspect_for
from node.detect.preprocess import preprocess
from node.detect.yolox import DetectorSession, decode, detect
from node.explain.drise import DetectionTarget, detection_similarity
from node.explain.errors import TargetError, UnsupportedError
from node.explain.maps import FloatMap, Image, resize_map
from node.explain.subject import Subject
from schemas.manifest import YoloxDecoding

DETECTOR_MASK_CELLS = 16  # D-RISE's grid on a 416 canvas: 26-pixel cells
DETECTOR_BATCH = 4  # images per deadline check (the graphs take one image per run)
PICK_THRESHOLD = 0.25  # a detection chosen without --box must score at least this
PICK_NMS_IOU = 0.45


def _geometry(session: DetectorSession) -> tuple[tuple[int, int], str, int, YoloxDecoding]:
    m = session.manifest
    spec = m.inputs[0]
    input_hw = spec.image_size()
    if not isinstance(m.decoding, YoloxDecoding) or input_hw is None:
        raise UnsupportedError(f"model {m.label} is not a fixed-size YOLOX detector")
    return input_hw, spec.name, spec.pad_value, m.decoding


def _proposals(
    session: DetectorSession, canvas: Image
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    input_hw, name, _, dec = _geometry(session)
    tensor = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
    raw = np.asarray(session.run({name: tensor})[0], dtype=np.float32)
    return decode(raw, input_hw, dec.strides, apply_sigmoid=not dec.sigmoid_applied)


def detector_class(labels: Sequence[str], node_label: str) -> str | None:
    """The detector class an event's node label comes from (``bag`` -> ``handbag``)."""
    for label in labels:
        meaning = suspect_for(label)
        if meaning is not None and meaning.label == node_label:
            return label
    return None


def choose_target(
    session: DetectorSession,
    image: Image,
    canvas: Image,
    ratio: float,
    labels: Sequence[str],
    label: str | None,
    box: Sequence[float] | None,
) -> DetectionTarget:
    """The detection to explain, in input pixels: ``box`` (frame pixels) with ``label`` or the
    class whose proposals best match it; without ``box`` the best detection (of ``label`` if
    given). ``canvas`` is ``image`` letterboxed with ``ratio``."""
    if label is not None and label not in labels:
        model_label = detector_class(labels, label)
        if model_label is None:
            raise TargetError(f"unknown class {label!r}; this model's classes: {list(labels)}")
        label = model_label
    if box is not None:
        target_box = np.asarray(box, dtype=np.float32) * np.float32(ratio)
        if label is not None:
            return DetectionTarget(target_box, list(labels).index(label), label)
        boxes, cls = _proposals(session, canvas)
        match = box_iou(target_box[None], boxes)[0][:, None] * cls
        k = int(np.argmax(match.max(axis=0))) if len(boxes) else 0
        return DetectionTarget(target_box, k, labels[k])
    found = detect(session, image, score_threshold=PICK_THRESHOLD, iou_threshold=PICK_NMS_IOU)
    keep = [i for i in range(len(found)) if label is None or str(found.labels[i]) == label]
    if not keep:
        what = f"no {label!r}" if label else "nothing"
        raise TargetError(
            f"{what} detected at score >= {PICK_THRESHOLD}; give the box to explain (--box)"
        )
    best = max(keep, key=lambda i: float(found.score[i]))
    name = str(found.labels[best])
    return DetectionTarget(found.xyxy[best] * np.float32(ratio), list(labels).index(name), name)


def detector_subject(
    session: DetectorSession,
    model: str,
    image: Image,
    label: str | None = None,
    box: Sequence[float] | None = None,
) -> Subject:
    """Score = ``detection_similarity`` to the chosen detection."""
    input_hw, _, pad, dec = _geometry(session)
    lb = preprocess(image, input_hw, pad)
    canvas = np.ascontiguousarray(lb.tensor[0].transpose(1, 2, 0)).astype(np.uint8)
    labels = session.manifest.labels or [str(i) for i in range(dec.num_classes)]
    target = choose_target(session, image, canvas, lb.ratio, labels, label, box)
    h, w = image.shape[:2]
    # the letterbox's own truncation, so the frame part of the canvas is cut exactly
    nh, nw = max(1, int(h * lb.ratio)), max(1, int(w * lb.ratio))

    def score(batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        out = []
        for img in batch:
            boxes, cls = _proposals(session, img)
            out.append(detection_similarity(boxes, cls, target))
        return np.asarray(out, dtype=np.float32)

    def to_image(heat: FloatMap) -> FloatMap:
        return resize_map(np.ascontiguousarray(heat[:nh, :nw]), w, h)

    shown = [round(float(v) / lb.ratio, 1) for v in target.box]
    return Subject(
        model=model,
        target=f"{target.label}@[{', '.join(f'{v:g}' for v in shown)}]",
        working=canvas,
        fill=(float(pad), float(pad), float(pad)),
        score=score,
        to_image=to_image,
        batch=DETECTOR_BATCH,
        mask_cells=DETECTOR_MASK_CELLS,
    )
