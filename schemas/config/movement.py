"""Config of the movement analytic (``analytics.movement``): walk, run, fall, fight per person."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.config.analytic import AnalyticConfig
from schemas.config.base import ConfigSection

MovementAction = Literal["walk", "run", "fall", "fight"]
ACTIONS: tuple[MovementAction, ...] = ("walk", "run", "fall", "fight")


class FallRuleConfig(ConfigSection):
    min_drop: float = Field(
        default=0.35, gt=0, lt=1, description="Least drop of the box top, fraction of body height."
    )
    descent_window_s: float = Field(
        default=1.5, gt=0, description="The drop must happen within this long."
    )
    min_descent_speed: float = Field(
        default=0.6, gt=0, description="Least descent speed, body heights per second."
    )
    classifier_fall: float = Field(
        default=0.5, gt=0, le=1,
        description="A slower descent also counts while the classifier's fall probability is "
        "at least this (slumping falls).",
    )
    lying_aspect: float = Field(
        default=1.0, gt=0, description="Box width/height at or over this counts as lying."
    )
    low_height: float = Field(
        default=0.5, gt=0, lt=1, description="Box height at or under this fraction: on the floor."
    )
    ground_s: float = Field(
        default=1.0, gt=0, description="Seconds on the ground after a descent that make a fall."
    )
    ground_timeout_s: float = Field(
        default=2.5, gt=0, description="A descent not reaching the ground within this is no fall."
    )
    recover_height: float = Field(
        default=0.8, gt=0, le=1, description="Back up to this fraction of height: not a fall."
    )
    vanish_is_ground: bool = Field(
        default=True,
        description="A person lost by the detector right after a fast descent counts as lying "
        "(detectors rarely see people on the floor).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> FallRuleConfig:
        if self.low_height >= self.recover_height:
            raise ValueError("fall.low_height must be < fall.recover_height")
        return self


class MovementConfig(AnalyticConfig):
    """People (detector + tracker) -> MoveNet pose -> feature windows -> rules + classifier."""

    fps: float = Field(default=8.0, gt=0, description="Most analyses per second per camera.")
    update_interval_s: float = Field(
        default=10.0, ge=0, description="Least time between two `update` events of one action."
    )
    detector: str = Field(
        default="yolox_nano", description="Registry name of the person detector (family yolox)."
    )
    pose_model: str = Field(
        default="movenet_multipose", description="Registry name of the MoveNet MultiPose model."
    )
    pose_long_side: int = Field(
        default=256, ge=128, le=640, multiple_of=32,
        description="MoveNet input long side (pixels); the short side follows the frame aspect.",
    )
    classifier: str | None = Field(
        default=None,
        description="Classifier sidecar JSON path (default: the bundled models/movement one).",
    )
    threads: int = Field(
        default=1, ge=1,
        description="ONNX Runtime threads of a classifier loaded from a `classifier` sidecar path; "
        "the registry model uses the `models` section's threads.",
    )
    person_confidence: float = Field(
        default=0.4, gt=0, le=1, description="Least detector score of a person to start a track."
    )
    min_pose_iou: float = Field(
        default=0.3, ge=0, le=1, description="Least IoU between a pose box and a track box."
    )
    min_keypoint_score: float = Field(
        default=0.3, gt=0, lt=1, description="Keypoints under this score count as missing."
    )
    min_steps: int = Field(
        default=8, ge=2, description="Least window steps seen before a track is classified."
    )
    actions: list[MovementAction] = Field(
        default_factory=lambda: list(ACTIONS), description="Actions that raise events."
    )
    action_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Least classifier probability of walk/run/fight."
    )
    vote_k: int = Field(default=4, ge=1, description="An action needs k of the last n steps...")
    vote_n: int = Field(default=8, ge=1, description="...(analysed frames) to raise its event.")
    run_min_stride: float = Field(
        default=0.4, gt=0,
        description="Running also needs this many body heights of motion per step: the larger "
        "of the ground speed (towards the camera included) and the limbs' speed, over the "
        "cadence of the legs' and arms' swing -- the same at any playback rate (slow motion, "
        "time-lapse). 0.4 = 1 body height/s at the lowest running cadence, 2.5 steps/s.",
    )
    run_min_speed: float = Field(
        default=1.0, gt=0,
        description="Where no gait rhythm is measurable (legs hidden), running needs the body "
        "(or the limbs relative to it) to move at least this many body heights per second.",
    )
    fight_max_distance: float = Field(
        default=1.0, gt=0, description="Fighters' centres at most this many body heights apart."
    )
    fight_min_limb_speed: float = Field(
        default=0.5, ge=0, description="Least mean limb speed of a fighting pair (heights/s)."
    )
    compensate_camera: bool = Field(
        default=True,
        description="Take a panning camera's motion (median shift of background corners) out "
        "of the tracks before measuring speeds.",
    )
    fall: FallRuleConfig = Field(default_factory=FallRuleConfig)
    end_after_s: float = Field(
        default=3.0, gt=0, description="An action unseen for this long ends its event."
    )
    escalate_faces: bool = Field(
        default=True, description="After a fall or fight, ask the face analytic to identify them."
    )

    @model_validator(mode="after")
    def _vote(self) -> MovementConfig:
        if self.vote_k > self.vote_n:
            raise ValueError(f"vote_k ({self.vote_k}) must be <= vote_n ({self.vote_n})")
        return self
