"""``FaceService``: enroll, remove, list, authorise and revoke people.

Shared by the MQTT commands and the CLI. Every refusal is a ``CommandError`` with its own code,
naming the image at fault, and nothing is stored unless every image passed (an enrollment is
all-or-nothing). Inference is synchronous: async callers run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from node.commands.errors import CommandError
from node.face.engine import FaceEngine, FaceSample
from node.face.gallery import Gallery, GalleryError, IdentitySummary
from node.face.gate import AuthorisationGate
from node.face.quality import QualityIssue
from node.frame import Frame
from schemas.commands import ErrorCode
from schemas.config.faces import FacesConfig

F32 = npt.NDArray[np.float32]


class FrameProvider(Protocol):
    """Gives the latest frame of a camera (the pipeline's source), or None if it has none yet."""

    def cameras(self) -> list[str]: ...

    async def latest(self, camera: str) -> Frame | None: ...


@dataclass(frozen=True)
class EnrollPolicy:
    max_image_bytes: int = 4 * 1024 * 1024
    max_images: int = 20
    too_close_similarity: float = 0.45
    max_seconds: float = 30.0

    @classmethod
    def from_config(cls, fc: FacesConfig) -> EnrollPolicy:
        return cls(
            fc.max_image_bytes, fc.max_images, fc.too_close_similarity, fc.enroll_max_seconds
        )


@dataclass
class EnrollResult:
    identity: IdentitySummary
    added: int
    warnings: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "identity": self.identity.model_dump(mode="json"),
            "added": self.added,
            "warnings": self.warnings,
            "skipped": self.skipped,
        }


def decode_image(data: bytes, label: str, max_bytes: int) -> npt.NDArray[np.uint8]:
    """JPEG/PNG bytes → BGR image, refusing oversize and undecodable input."""
    if len(data) > max_bytes:
        raise CommandError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"{label}: {len(data)} bytes > limit {max_bytes}"
        )
    if not data:
        raise CommandError(ErrorCode.BAD_IMAGE, f"{label}: empty image")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise CommandError(ErrorCode.BAD_IMAGE, f"{label}: not a decodable JPEG/PNG image")
    return np.ascontiguousarray(img, dtype=np.uint8)


def decode_base64(text: str, label: str, max_bytes: int) -> bytes:
    # base64 grows 4/3: refuse before decoding so a huge string costs nothing
    if len(text) > (max_bytes * 4) // 3 + 8:
        raise CommandError(
            ErrorCode.PAYLOAD_TOO_LARGE, f"{label}: base64 text over the {max_bytes}-byte limit"
        )
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]  # tolerate data URLs from browsers
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as err:
        raise CommandError(ErrorCode.BAD_ENCODING, f"{label}: invalid base64 ({err})") from None


ISSUE_CODES = {
    QualityIssue.TOO_SMALL: ErrorCode.FACE_TOO_SMALL,
    QualityIssue.BLURRY: ErrorCode.FACE_BLURRY,
    QualityIssue.POSE: ErrorCode.FACE_POSE,
}


class FaceService:
    def __init__(
        self,
        engine: FaceEngine,
        gallery: Gallery,
        policy: EnrollPolicy | None = None,
        gate: AuthorisationGate | None = None,
        frames: FrameProvider | None = None,
    ) -> None:
        self.engine = engine
        self.gallery = gallery
        self.policy = policy or EnrollPolicy()
        self.gate = gate
        self.frames = frames

    # ---- one image -------------------------------------------------------------------------
    def sample_from_image(self, image: npt.NDArray[np.uint8], label: str) -> FaceSample:
        """The single usable face of an enrollment image, or the precise reason there is none."""
        faces = self.engine.analyse(image, embed_all=True)
        if not faces:
            raise CommandError(ErrorCode.NO_FACE, f"{label}: no face found")
        # background faces far below the size limit are not a second enrollee
        big = [f for f in faces if QualityIssue.TOO_SMALL not in f.quality.issues]
        if len(big) > 1:
            raise CommandError(ErrorCode.MULTIPLE_FACES, f"{label}: {len(big)} faces; need one")
        if not big:
            size = max(f.quality.size_px for f in faces)
            raise CommandError(
                ErrorCode.FACE_TOO_SMALL,
                f"{label}: face is {size:.0f}px, need {self.engine.limits.min_face_px:.0f}px",
            )
        face = big[0]
        for issue in face.quality.issues:
            q = face.quality
            detail = {
                QualityIssue.BLURRY: f"sharpness {q.sharpness:.0f} < "
                f"{self.engine.limits.min_sharpness:.0f}",
                QualityIssue.POSE: f"roll {q.pose.roll_deg:.0f}deg yaw {q.pose.yaw:.2f} "
                f"pitch {q.pose.pitch:.2f}",
            }.get(issue, issue.value)
            raise CommandError(ISSUE_CODES[issue], f"{label}: {detail}")
        return face

    # ---- enrollment -------------------------------------------------------------------------
    def enroll_images(
        self,
        name: str,
        images: Sequence[bytes],
        *,
        authorised: bool | None = None,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> EnrollResult:
        if not images:
            raise CommandError(ErrorCode.INVALID_PARAMS, "no images")
        if len(images) > self.policy.max_images:
            raise CommandError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"{len(images)} images > limit {self.policy.max_images}",
            )
        decoded = [
            decode_image(b, f"image {i}", self.policy.max_image_bytes)
            for i, b in enumerate(images)
        ]
        samples = [self.sample_from_image(img, f"image {i}") for i, img in enumerate(decoded)]
        return self.store(name, samples, authorised=authorised, metadata=metadata,
                          replace=replace)

    def store(
        self,
        name: str,
        samples: Sequence[FaceSample],
        *,
        authorised: bool | None = None,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> EnrollResult:
        emb = np.stack([s.embedding for s in samples if s.embedding is not None])
        warnings = self.too_close(name, emb)
        crops = [_png_b64(s.crop) for s in samples] if self.gallery.store_crops else None
        try:
            summary = self.gallery.add(
                name, emb, self.engine.embedder.label, authorised=authorised,
                metadata=metadata, crops_png_b64=crops, replace=replace,
            )
        except GalleryError as err:
            raise CommandError(ErrorCode.CONFLICT, str(err)) from None
        return EnrollResult(identity=summary, added=len(emb), warnings=warnings)

    def too_close(self, name: str, emb: F32) -> list[dict[str, Any]]:
        """Other identities the new samples resemble: a likely duplicate or a look-alike that
        will make both harder to tell apart."""
        matcher = self.gallery.matcher(threshold=1.0, margin=0.0, exclude=name)
        if not matcher.identities or matcher.dim != emb.shape[1]:
            return []
        sims = matcher.similarities(emb).max(axis=0)
        return [
            {"code": "too_close", "identity": ident, "similarity": round(float(s), 4)}
            for ident, s in zip(matcher.identities, sims, strict=True)
            if s >= self.policy.too_close_similarity
        ]

    async def enroll_from_camera(
        self,
        name: str,
        camera: str,
        seconds: float,
        *,
        interval_s: float = 0.5,
        max_samples: int = 10,
        authorised: bool | None = None,
        metadata: dict[str, Any] | None = None,
        replace: bool = False,
    ) -> EnrollResult:
        """Sample the camera's latest frame every ``interval_s`` for ``seconds``; keep frames
        with exactly one good face; needs at least one."""
        if self.frames is None:
            raise CommandError(ErrorCode.UNAVAILABLE, "no camera frames on this node")
        if camera not in self.frames.cameras():
            raise CommandError(ErrorCode.NOT_FOUND, f"unknown camera {camera!r}")
        if seconds > self.policy.max_seconds:
            raise CommandError(
                ErrorCode.INVALID_PARAMS, f"seconds {seconds} > limit {self.policy.max_seconds}"
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        samples: list[FaceSample] = []
        reasons: dict[str, int] = {}
        last_index: int | None = None
        while loop.time() < deadline and len(samples) < max_samples:
            frame = await self.frames.latest(camera)
            if frame is not None and frame.index != last_index:
                last_index = frame.index
                try:
                    samples.append(await asyncio.to_thread(
                        self.sample_from_image, frame.image, f"frame {frame.index}"))
                except CommandError as err:
                    reasons[err.code.value] = reasons.get(err.code.value, 0) + 1
            await asyncio.sleep(interval_s)
        if not samples:
            worst = max(reasons, key=lambda k: reasons[k]) if reasons else ErrorCode.NO_FACE.value
            raise CommandError(
                ErrorCode(worst), f"no usable face on {camera} in {seconds}s: {reasons}"
            )
        result = await asyncio.to_thread(
            self.store, name, samples, authorised=authorised, metadata=metadata, replace=replace
        )
        result.skipped = [{"code": k, "frames": v} for k, v in sorted(reasons.items())]
        return result

    # ---- management --------------------------------------------------------------------------
    def remove(self, name: str) -> None:
        try:
            self.gallery.remove(name)
        except KeyError:
            raise CommandError(ErrorCode.NOT_FOUND, f"no identity {name!r}") from None
        if self.gate is not None:
            self.gate.revoke(name)

    def set_authorised(self, name: str, authorised: bool) -> IdentitySummary:
        try:
            summary = self.gallery.set_authorised(name, authorised)
        except KeyError:
            raise CommandError(ErrorCode.NOT_FOUND, f"no identity {name!r}") from None
        if not authorised and self.gate is not None:
            self.gate.revoke(name)
        return summary

    def list(self) -> list[IdentitySummary]:
        return self.gallery.summaries()


def _png_b64(crop: npt.NDArray[np.uint8]) -> str:
    ok, buf = cv2.imencode(".png", crop)
    return base64.b64encode(buf.tobytes()).decode() if ok else ""
