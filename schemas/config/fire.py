"""Config of the fire/smoke analytic (``analytics.fire``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.config.analytic import AnalyticConfig

FireClass = Literal["fire", "smoke"]
FIRE_CLASSES: tuple[FireClass, ...] = ("fire", "smoke")
# bundled registry entries (models/registry.yaml) per precision
REGISTRY_NAMES: dict[str, str] = {"fp32": "fire_cls", "int8": "fire_cls_int8"}


class FireConfig(AnalyticConfig):
    """Scene-level fire and smoke classifier with CAM localisation and k-of-n alarms."""

    fps: float = Field(default=1.0, gt=0, description="Most analyses per second per camera.")
    update_interval_s: float = Field(
        default=30.0, ge=0, description="Least time between two `update` events of one alarm."
    )
    model_source: Literal["registry", "bundled"] = Field(
        default="registry",
        description=(
            "`registry`: the model registry entry named `model` (the bundled `fire_cls` / "
            "`fire_cls_int8`, sha256-checked, swappable with model_swap); `bundled`: open the "
            "ONNX file next to the fire manifest directly."
        ),
    )
    model: str | None = Field(
        default=None,
        description=(
            "Registry name when model_source=registry (default by `precision`: `fire_cls_int8` "
            "or `fire_cls`)."
        ),
    )
    manifest: str | None = Field(
        default=None,
        description="Fire manifest JSON path (default: the bundled models/fire/fire_cls.json).",
    )
    precision: Literal["int8", "fp32"] = Field(
        default="fp32",
        description=(
            "Which bundled model to run. FP32 by default: INT8 raised more false alarms on "
            "held-out sky images for 16% less latency (models/fire/MODEL_CARD.md)."
        ),
    )
    threads: int = Field(default=1, ge=1, description="ONNX Runtime intra-op threads (bundled).")
    classes: list[FireClass] = Field(
        default_factory=lambda: list(FIRE_CLASSES), description="Classes that raise events."
    )
    threshold_fire: float | None = Field(
        default=None, gt=0, lt=1, description="Raise threshold for fire (default: the model's)."
    )
    threshold_smoke: float | None = Field(
        default=None, gt=0, lt=1, description="Raise threshold for smoke (default: the model's)."
    )
    k: int = Field(default=3, ge=1, description="An alarm needs k of the last n frames above.")
    n: int = Field(default=5, ge=1, description="Window of the k-of-n rule, in analysed frames.")
    hysteresis: float = Field(
        default=0.15,
        ge=0,
        lt=1,
        description="An active alarm holds while a score stays above threshold minus this.",
    )
    hold_k: int = Field(
        default=1, ge=1, description="Frames of the last n above the lower threshold that hold it."
    )
    end_after_s: float = Field(
        default=5.0, gt=0, description="An alarm that has cleared for this long ends its event."
    )
    cam_threshold: float = Field(
        default=0.7,
        gt=0,
        lt=1,
        description=(
            "CAM box: fraction of the map's peak kept as region (0.7 with `union`: chosen by "
            "cross-validation on train/ fire images with fire@4's localisation head)."
        ),
    )
    cam_region: Literal["peak", "largest", "union"] = Field(
        default="union",
        description=(
            "CAM box: the region above cam_threshold holding the peak, the largest one, or all."
        ),
    )
    overlay: bool = Field(
        default=True, description="Attach the frame with the CAM heatmap for snapshots."
    )

    def registry_name(self) -> str:
        """The registry entry this config runs when model_source=registry."""
        if self.model:
            return self.model
        return REGISTRY_NAMES[self.precision]

    @model_validator(mode="after")
    def _window(self) -> FireConfig:
        if self.k > self.n or self.hold_k > self.n:
            raise ValueError(f"need k <= n and hold_k <= n, got k={self.k} hold_k={self.hold_k} "
                             f"n={self.n}")
        return self
