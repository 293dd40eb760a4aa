"""A face match as an explanation subject: which parts of the face carried the similarity.

The working image is the aligned crop the embedder sees (the 5-point similarity warp of
``node.face.align``); the score is the cosine similarity of the perturbed crop's embedding to an
identity (its best enrolled embedding, as the matcher compares). Working maps go back onto the
frame through the inverse of the alignment warp. Removed pixels are mid-grey, the embedder's
normalisation centre. ``face_regions`` names the parts of the aligned template (eyes, nose,
mouth) for the per-region similarity drops that the occlusion method reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from node.explain.errors import TargetError
from node.explain.maps import FloatMap, Image
from node.explain.subject import Subject
from node.face.align import template, umeyama
from node.face.engine import FaceEngine, FaceSample

F32 = npt.NDArray[np.float32]
FACE_MASK_CELLS = 7
FACE_BATCH = 8
GREY = (128.0, 128.0, 128.0)
REGION_RADIUS = 0.11  # of the crop side: about an eye's width on the ArcFace template
SELF = "self"  # the target when no identity is enrolled: the face's own embedding


@dataclass(frozen=True)
class Identities:
    """Enrolled embeddings (M, D), one name each (``node.face.gallery.Gallery`` gives them)."""

    names: list[str]
    embeddings: F32

    def of(self, name: str) -> F32:
        rows = [i for i, n in enumerate(self.names) if n == name]
        if not rows:
            known = sorted(set(self.names))
            raise TargetError(f"unknown identity {name!r}; enrolled: {known}")
        return self.embeddings[rows]


def face_regions(size: int) -> dict[str, npt.NDArray[np.bool_]]:
    """Boolean masks (size x size) of the eyes, nose and mouth on the aligned template."""
    pts = template(size)
    r = REGION_RADIUS * size
    yy, xx = np.mgrid[0:size, 0:size]

    def disc(cx: float, cy: float, rx: float, ry: float) -> npt.NDArray[np.bool_]:
        return np.asarray(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0)

    mouth = (pts[3] + pts[4]) / 2
    half_width = float(np.linalg.norm(pts[4] - pts[3])) / 2 + r / 2
    return {
        "left_eye": disc(pts[0][0], pts[0][1], r, r),
        "right_eye": disc(pts[1][0], pts[1][1], r, r),
        "nose": disc(pts[2][0], pts[2][1], r, r),
        "mouth": disc(mouth[0], mouth[1], half_width, r),
    }


def _pick(
    samples: list[FaceSample], gallery: Identities, identity: str | None
) -> tuple[FaceSample, F32, str]:
    """The face and identity embeddings to explain: ``identity``'s best-matching face; without
    one, the best (face, enrolled identity) pair; with nobody enrolled, the largest face against
    itself."""
    faces = [s for s in samples if s.embedding is not None]
    if not faces:
        raise TargetError("no face found in the image")
    probes = np.stack([s.embedding for s in faces if s.embedding is not None])
    if identity is not None:
        refs = gallery.of(identity)
        best = int(np.argmax((probes @ refs.T).max(axis=1)))
        return faces[best], refs, identity
    if not gallery.names:
        areas = [float((s.box[2] - s.box[0]) * (s.box[3] - s.box[1])) for s in faces]
        face = faces[int(np.argmax(areas))]
        assert face.embedding is not None
        return face, face.embedding[None], SELF
    sims = probes @ gallery.embeddings.T  # (faces, M)
    f, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    name = gallery.names[int(j)]
    return faces[int(f)], gallery.of(name), name


def face_subject(
    engine: FaceEngine, gallery: Identities, image: Image, identity: str | None = None
) -> Subject:
    """Score = the best cosine similarity of the (perturbed) aligned face to the identity."""
    samples = engine.analyse(image, embed_all=True)
    face, refs, name = _pick(samples, gallery, identity)
    size = engine.embedder.contract.size
    warp = umeyama(np.asarray(face.landmarks).reshape(5, 2), template(size))
    h, w = image.shape[:2]

    def score(batch: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        emb = engine.embedder.embed(list(batch))
        return np.asarray((emb @ refs.T).max(axis=1), dtype=np.float32)

    def to_image(heat: FloatMap) -> FloatMap:
        back = cv2.warpAffine(
            np.asarray(heat, np.float32), warp, (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
        )  # fmt: skip
        return np.asarray(back, dtype=np.float32)

    x1, y1, x2, y2 = (round(float(v)) for v in face.box)
    return Subject(
        model="faces",
        target=f"{name}@[{x1}, {y1}, {x2}, {y2}]",
        working=face.crop,
        fill=GREY,
        score=score,
        to_image=to_image,
        batch=FACE_BATCH,
        mask_cells=FACE_MASK_CELLS,
    )
