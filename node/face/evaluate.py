"""Face recognition evaluation: pure metrics over labelled embeddings.

- closed-set accuracy: the best-scoring gallery identity is the right one (known probes only);
- open-set at (threshold, margin): false reject = a known probe not accepted as itself, false
  accept = an unknown probe accepted as anyone, misidentification = accepted as someone else;
- leave-one-identity-out (LOIO): each identity in turn leaves the gallery and all its images
  become unknown probes; every acceptance is a false accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from node.face.engine import FaceEngine
from node.face.matcher import Matcher

F32 = npt.NDArray[np.float32]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass
class Labelled:
    labels: list[str]
    emb: F32
    paths: list[str]
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Labelled:
        idx = np.flatnonzero(keep)
        return Labelled([self.labels[i] for i in idx], self.emb[idx], [self.paths[i] for i in idx])

    @staticmethod
    def concat(parts: Iterable[Labelled]) -> Labelled:
        ps = list(parts)
        dim = next((p.emb.shape[1] for p in ps if p.emb.size), 0)
        return Labelled(
            [lab for p in ps for lab in p.labels],
            np.concatenate([p.emb.reshape(-1, dim) for p in ps]).astype(np.float32),
            [x for p in ps for x in p.paths],
        )


def tree_images(root: str | Path) -> list[tuple[str, Path]]:
    """``<root>/<person>/*.jpg`` → [(person, path)], sorted."""
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    return [
        (person.name, p)
        for person in sorted(d for d in base.iterdir() if d.is_dir())
        for p in sorted(person.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]


def embed_tree(engine: FaceEngine, root: str | Path) -> Labelled:
    """Embed the largest face of every image (quality issues are kept: evaluation measures the
    recogniser, not the enrollment filter); images without a face are listed as failures."""
    labels, rows, paths, failures = [], [], [], []
    for person, path in tree_images(root):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            failures.append((str(path), "unreadable"))
            continue
        faces = engine.analyse(np.asarray(img, np.uint8), embed_all=True)
        if not faces:
            failures.append((str(path), "no_face"))
            continue
        best = max(faces, key=lambda f: f.quality.size_px)
        assert best.embedding is not None  # embed_all
        labels.append(person)
        rows.append(best.embedding)
        paths.append(str(path))
    dim = engine.embedder.contract.dim
    emb = np.asarray(rows, np.float32).reshape(len(rows), dim)
    return Labelled(labels, emb, paths, failures)


@dataclass(frozen=True)
class OpenSetRates:
    threshold: float
    known: int
    unknown: int
    true_accepts: int  # known probe accepted as itself
    false_rejects: int  # known probe not accepted as itself (rejected or misidentified)
    misidentified: int  # known probe accepted as someone else
    false_accepts: int  # unknown probe accepted as anyone

    @property
    def frr(self) -> float:
        return self.false_rejects / self.known if self.known else 0.0

    @property
    def far(self) -> float:
        return self.false_accepts / self.unknown if self.unknown else 0.0


def _matcher(gallery: Labelled, threshold: float, margin: float) -> Matcher:
    return Matcher(gallery.emb, gallery.labels, threshold, margin)


def closed_set_accuracy(gallery: Labelled, probes: Labelled) -> tuple[int, int]:
    m = _matcher(gallery, 0.0, 0.0)
    known = [i for i, lab in enumerate(probes.labels) if lab in m.identities]
    if not known:
        return 0, 0
    sims = m.similarities(probes.emb[known])
    best = [m.identities[int(k)] for k in sims.argmax(axis=1)]
    correct = sum(b == probes.labels[i] for b, i in zip(best, known, strict=True))
    return correct, len(known)


def open_set(gallery: Labelled, probes: Labelled, threshold: float, margin: float) -> OpenSetRates:
    m = _matcher(gallery, threshold, margin)
    ta = fr = mis = fa = known = unknown = 0
    for lab, match in zip(probes.labels, m.match(probes.emb), strict=True):
        if lab in m.identities:
            known += 1
            if match.identity == lab:
                ta += 1
            else:
                fr += 1
                mis += int(match.known)
        else:
            unknown += 1
            fa += int(match.known)
    return OpenSetRates(threshold, known, unknown, ta, fr, mis, fa)


@dataclass(frozen=True)
class LoioRow:
    identity: str
    probes: int
    false_accepts: int
    max_similarity: float  # highest similarity of its images to anyone else
    accepted_as: dict[str, int]


def leave_one_identity_out(
    gallery: Labelled, probes: Labelled, threshold: float, margin: float
) -> list[LoioRow]:
    """Each gallery identity leaves the gallery; its gallery and probe images become unknowns."""
    everyone = Labelled.concat([gallery, probes])
    rows = []
    for ident in sorted(set(gallery.labels)):
        rest = gallery.subset(np.array([lab != ident for lab in gallery.labels]))
        mine = everyone.subset(np.array([lab == ident for lab in everyone.labels]))
        if not rest.labels or not mine.labels:
            continue
        m = _matcher(rest, threshold, margin)
        matches = m.match(mine.emb)
        accepted: dict[str, int] = {}
        for x in matches:
            if x.known:
                accepted[x.identity] = accepted.get(x.identity, 0) + 1
        rows.append(LoioRow(
            ident, len(matches), sum(accepted.values()),
            max(x.similarity for x in matches), accepted,
        ))
    return rows


def sweep(
    gallery: Labelled, probes: Labelled, thresholds: Iterable[float], margin: float
) -> list[tuple[OpenSetRates, int, int]]:
    """Per threshold: open-set rates on the probes, plus LOIO false accepts and trials."""
    out = []
    for t in thresholds:
        loio = leave_one_identity_out(gallery, probes, t, margin)
        out.append((open_set(gallery, probes, t, margin),
                    sum(r.false_accepts for r in loio), sum(r.probes for r in loio)))
    return out
