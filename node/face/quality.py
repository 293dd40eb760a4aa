"""Is a detected face worth embedding? Size, sharpness and pose, each with its own verdict.

Pose is estimated from the 5 landmarks alone (no extra model): roll is the angle of the eye line,
yaw the nose's horizontal offset from the eye midpoint relative to the eye distance, pitch the
nose's vertical position between the eye line and the mouth line (about 0.5 for a frontal face).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
import numpy.typing as npt


class QualityIssue(str, Enum):
    TOO_SMALL = "too_small"
    BLURRY = "blurry"
    POSE = "pose"


@dataclass(frozen=True)
class QualityLimits:
    min_face_px: float = 40.0  # shorter side of the detector box, frame pixels
    min_sharpness: float = 40.0  # variance of the Laplacian on the aligned grey crop
    max_roll_deg: float = 30.0
    max_yaw: float = 0.45  # |nose offset| / eye distance
    pitch_range: tuple[float, float] = (0.2, 0.8)


@dataclass(frozen=True)
class Pose:
    roll_deg: float
    yaw: float
    pitch: float


@dataclass(frozen=True)
class QualityReport:
    size_px: float
    sharpness: float
    pose: Pose
    issues: tuple[QualityIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


def sharpness(crop_bgr: npt.NDArray[np.uint8]) -> float:
    """Variance of the Laplacian: low on blurred crops (few edges)."""
    grey = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY) if crop_bgr.ndim == 3 else crop_bgr
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def pose_from_landmarks(landmarks: npt.NDArray[np.floating]) -> Pose:
    lm = np.asarray(landmarks, np.float64).reshape(5, 2)
    eye_l, eye_r, nose, mouth_l, mouth_r = lm
    dx, dy = eye_r - eye_l
    eye_dist = max(float(np.hypot(dx, dy)), 1e-6)
    roll = float(np.degrees(np.arctan2(dy, dx)))
    # express the nose in the eye-aligned frame so roll does not leak into yaw/pitch
    axis = np.array([dx, dy]) / eye_dist
    normal = np.array([-axis[1], axis[0]])
    eye_mid, mouth_mid = (eye_l + eye_r) / 2, (mouth_l + mouth_r) / 2
    yaw = float((nose - eye_mid) @ axis) / eye_dist
    face_h = float((mouth_mid - eye_mid) @ normal)
    pitch = float((nose - eye_mid) @ normal) / face_h if abs(face_h) > 1e-6 else 0.0
    return Pose(roll_deg=roll, yaw=yaw, pitch=pitch)


def assess(
    box: npt.NDArray[np.floating],
    landmarks: npt.NDArray[np.floating],
    aligned_bgr: npt.NDArray[np.uint8],
    limits: QualityLimits,
) -> QualityReport:
    size = float(min(box[2] - box[0], box[3] - box[1]))
    sharp = sharpness(aligned_bgr)
    pose = pose_from_landmarks(landmarks)
    issues: list[QualityIssue] = []
    if size < limits.min_face_px:
        issues.append(QualityIssue.TOO_SMALL)
    if sharp < limits.min_sharpness:
        issues.append(QualityIssue.BLURRY)
    lo, hi = limits.pitch_range
    if (
        abs(pose.roll_deg) > limits.max_roll_deg
        or abs(pose.yaw) > limits.max_yaw
        or not lo <= pose.pitch <= hi
    ):
        issues.append(QualityIssue.POSE)
    return QualityReport(size_px=size, sharpness=sharp, pose=pose, issues=tuple(issues))
