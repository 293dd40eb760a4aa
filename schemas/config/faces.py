"""The `faces` analytic: detection, quality limits, recognition, voting, privacy."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.config.analytic import AnalyticConfig


class FacesConfig(AnalyticConfig):
    detector: str = Field(default="yunet", description="Registry name of the face detector.")
    embedder: str = Field(
        default="mobilefacenet",
        description="Registry name of the embedder; its manifest gives the input contract.",
    )
    gallery: str | None = Field(
        default=None, description="Gallery file (default: <data_dir>/faces/gallery.json)."
    )
    detection_threshold: float = Field(
        default=0.6, gt=0, lt=1, description="Least YuNet score sqrt(cls*obj) of a face."
    )
    nms_threshold: float = Field(default=0.3, gt=0, lt=1, description="IoU of duplicate boxes.")
    max_faces: int = Field(default=20, ge=1, description="Most faces analysed per frame.")
    match_threshold: float = Field(
        default=0.45,
        ge=-1,
        le=1,
        description="Least cosine similarity to accept a known identity (see docs/faces.md).",
    )
    match_margin: float = Field(
        default=0.05, ge=0, le=2, description="Least lead of the best identity over the second."
    )
    too_close_similarity: float = Field(
        default=0.45,
        ge=-1,
        le=1,
        description="Enrollment warns when a new person is this similar to an existing one.",
    )
    min_face_px: float = Field(default=40.0, gt=0, description="Shortest face box side, pixels.")
    min_sharpness: float = Field(
        default=40.0, ge=0, description="Least Laplacian variance of the aligned crop (blur)."
    )
    max_roll_deg: float = Field(default=30.0, gt=0, le=180, description="Most head roll.")
    max_yaw: float = Field(
        default=0.45, gt=0, description="Most |nose offset| / eye distance (head turned)."
    )
    vote_window: int = Field(default=5, ge=1, description="Decisions kept per face track.")
    vote_min: int = Field(
        default=3, ge=1, description="Same decision needed this many times in the window."
    )
    track_iou: float = Field(default=0.3, gt=0, lt=1, description="IoU linking faces to tracks.")
    track_max_missed: int = Field(
        default=5, ge=0, description="Analysed frames a face track survives unseen."
    )
    end_after_s: float = Field(default=3.0, gt=0, description="A face unseen this long ends.")
    publish_unknown_crop: bool = Field(
        default=False,
        description="Attach a base64 JPEG crop to `face.unknown` (biometric data: off).",
    )
    store_crops: bool = Field(
        default=False,
        description="Keep aligned face crops in the gallery (off: embeddings only).",
    )
    max_image_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0, description="Largest decoded enrollment image."
    )
    max_images: int = Field(default=20, ge=1, description="Most images per enrollment.")
    enroll_max_seconds: float = Field(
        default=30.0, gt=0, description="Longest `from camera` enrollment."
    )

    @model_validator(mode="after")
    def _votes_fit(self) -> FacesConfig:
        if self.vote_min > self.vote_window:
            raise ValueError(f"vote_min {self.vote_min} exceeds vote_window {self.vote_window}")
        return self
