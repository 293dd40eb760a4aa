"""Per-track time series -> fixed-rate feature windows (pure numpy).

A track is a list of samples (time, box, keypoints-or-missing) taken whenever the analytic ran.
``resample`` puts it on a fixed grid (``rate_hz``, e.g. 8 Hz) ending at the newest sample: boxes
are interpolated linearly, keypoints are taken from the nearest sample (a missing pose stays
missing). ``window_features`` turns the grid into ``(steps, NUM_FEATURES)``:

All lengths are divided by the body scale ``s`` (the largest box height in the window, i.e. the
standing height before a fall), so the same motion gives the same numbers at any distance from the
camera. Keypoints under ``min_kp_score`` count as missing; a feature that needs them is 0 with its
visibility feature telling the model so. The same code turns synthetic sequences
(``models/movement/synth.py``) and real tracks into features, so training sees what the node sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.movement.pose import KP, NUM_KEYPOINTS

F32 = npt.NDArray[np.float32]

FEATURES = (
    "vx", "vy", "v_top", "log_aspect", "d_log_aspect", "height_ratio", "torso_tilt",
    "torso_visible", "limb_speed", "wrist_speed", "proximity", "neighbour_limb_speed",
    "kp_visible", "pose_extent", "arm_bend", "knee_bend", "stride", "hip_bob",
)  # fmt: skip
NUM_FEATURES = len(FEATURES)
FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}
LIMBS = (KP["left_wrist"], KP["right_wrist"], KP["left_ankle"], KP["right_ankle"])
WRISTS = (KP["left_wrist"], KP["right_wrist"])
SPEED_CLIP = 6.0  # body heights per second: beyond this it is a tracking glitch, not motion


@dataclass(frozen=True, eq=False)
class Series:
    """A track on a time axis: ``times`` (n,), ``boxes`` (n, 4) xyxy, ``keypoints`` (n, 17, 3)
    (x, y, score; score 0 where no pose was matched)."""

    times: F32
    boxes: F32
    keypoints: F32

    def __post_init__(self) -> None:
        n = self.times.shape[0]
        if self.times.ndim != 1 or self.boxes.shape != (n, 4):
            raise ValueError(f"times must be (n,) and boxes (n, 4), got {self.times.shape} "
                             f"and {self.boxes.shape}")
        if self.keypoints.shape != (n, NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must be ({n}, 17, 3), got {self.keypoints.shape}")
        if n > 1 and np.any(np.diff(self.times) <= 0):
            raise ValueError("times must be strictly increasing")

    def __len__(self) -> int:
        return int(self.times.shape[0])


def resample(series: Series, t_end: float, rate_hz: float, steps: int) -> Series:
    """The series on ``steps`` grid times ending at ``t_end`` (before the first sample the first
    sample is held: a young track looks still, not fast)."""
    if len(series) == 0:
        raise ValueError("cannot resample an empty series")
    grid = (t_end - (steps - 1 - np.arange(steps)) / rate_hz).astype(np.float32)
    boxes = np.stack(
        [np.interp(grid, series.times, series.boxes[:, k]) for k in range(4)], axis=1
    ).astype(np.float32)
    idx = np.searchsorted(series.times, grid)
    idx = np.clip(idx, 0, len(series) - 1)
    prev = np.clip(idx - 1, 0, len(series) - 1)
    nearer_prev = np.abs(series.times[prev] - grid) <= np.abs(series.times[idx] - grid)
    nearest = np.where(nearer_prev, prev, idx)
    return Series(grid, boxes, series.keypoints[nearest].astype(np.float32))


def _velocity(x: F32, dt: float) -> F32:
    v = np.zeros_like(x)
    if x.shape[0] > 1:
        v[1:] = (x[1:] - x[:-1]) / dt
    return v


def _kp_speed(kps: F32, joints: tuple[int, ...], anchor: F32, ok: npt.NDArray[np.bool_],
              dt: float) -> F32:
    """Mean speed of ``joints`` relative to ``anchor`` (n, 2), over joints visible in both of two
    consecutive steps; 0 where none is."""
    rel = kps[:, joints, :2] - anchor[:, None, :]
    vis = ok[:, joints]
    out = np.zeros(kps.shape[0], np.float32)
    if kps.shape[0] < 2:
        return out
    d = np.linalg.norm(rel[1:] - rel[:-1], axis=2) / dt
    both = vis[1:] & vis[:-1]
    cnt = both.sum(axis=1)
    out[1:] = np.where(cnt > 0, (d * both).sum(axis=1) / np.maximum(cnt, 1), 0.0)
    return out


def body_scale(boxes: F32) -> float:
    """Reference body size: the largest box height in the window (the upright height)."""
    return float(max(np.max(boxes[:, 3] - boxes[:, 1]), 1.0))


def window_features(
    grid: Series,
    rate_hz: float,
    neighbour: Series | None = None,
    min_kp_score: float = 0.3,
) -> F32:
    """``(steps, NUM_FEATURES)`` features of one resampled track (and its nearest neighbour on
    the same grid, for pairwise motion)."""
    n = len(grid)
    dt = 1.0 / rate_hz
    s = body_scale(grid.boxes)
    b = grid.boxes
    w = np.maximum(b[:, 2] - b[:, 0], 1.0)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    cx = ((b[:, 0] + b[:, 2]) / 2).astype(np.float32)
    cy = ((b[:, 1] + b[:, 3]) / 2).astype(np.float32)
    log_aspect = np.log(h / w).astype(np.float32)
    kps = grid.keypoints
    ok = kps[:, :, 2] >= min_kp_score
    f = np.zeros((n, NUM_FEATURES), np.float32)
    f[:, 0] = _velocity(cx, dt) / s
    f[:, 1] = _velocity(cy, dt) / s
    f[:, 2] = _velocity(b[:, 1], dt) / s
    f[:, 3] = log_aspect
    f[:, 4] = _velocity(log_aspect, dt)
    f[:, 5] = h / s
    tilt, torso_ok = torso_tilt(kps, ok)
    f[:, 6] = tilt
    f[:, 7] = torso_ok
    centre = np.stack([cx, cy], axis=1).astype(np.float32)
    f[:, 8] = _kp_speed(kps, LIMBS, centre, ok, dt) / s
    f[:, 9] = _kp_speed(kps, WRISTS, centre, ok, dt) / s
    if neighbour is not None and len(neighbour) == n:
        nb = neighbour.boxes
        ncx, ncy = (nb[:, 0] + nb[:, 2]) / 2, (nb[:, 1] + nb[:, 3]) / 2
        dist = np.hypot(ncx - cx, ncy - cy) / s
        f[:, 10] = np.exp(-dist)
        nok = neighbour.keypoints[:, :, 2] >= min_kp_score
        ncentre = np.stack([ncx, ncy], axis=1).astype(np.float32)
        f[:, 11] = _kp_speed(neighbour.keypoints, LIMBS, ncentre, nok, dt) / s
    f[:, 12] = ok.mean(axis=1)
    y = kps[:, :, 1]
    extent = np.where(ok, y, -np.inf).max(axis=1) - np.where(ok, y, np.inf).min(axis=1)
    f[:, 13] = np.where(ok.sum(axis=1) >= 2, extent, 0.0) / s
    # posture cues of running that survive a panning camera (they need no image travel):
    # runners carry their arms bent and flex the swing knee deeply; the ankles' signed
    # separation oscillates with the stride; the hips bob with each (airborne) step
    f[:, 14] = joint_bend(kps, ok, "shoulder", "elbow", "wrist")
    f[:, 15] = joint_bend(kps, ok, "hip", "knee", "ankle")
    la, ra = KP["left_ankle"], KP["right_ankle"]
    both = ok[:, la] & ok[:, ra]
    f[:, 16] = np.where(both, kps[:, la, 0] - kps[:, ra, 0], 0.0) / s
    hips = ok[:, KP["left_hip"]] & ok[:, KP["right_hip"]]
    hip_y = (kps[:, KP["left_hip"], 1] + kps[:, KP["right_hip"], 1]) / 2 - cy
    bob = _velocity(hip_y.astype(np.float32), dt) / s
    bob[1:] *= hips[1:] & hips[:-1]
    f[:, 17] = np.where(hips, bob, 0.0)
    # speeds: a swapped identity or a box jump is not motion
    for k in (0, 1, 2, 8, 9, 11, 17):
        f[:, k] = np.clip(f[:, k], -SPEED_CLIP, SPEED_CLIP)
    f[:, 4] = np.clip(f[:, 4], -SPEED_CLIP, SPEED_CLIP)
    return np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)


def joint_bend(kps: F32, ok: npt.NDArray[np.bool_], a: str, b: str, c: str) -> F32:
    """Per step, the larger bend over both sides of the chain ``a-b-c`` (e.g. shoulder, elbow,
    wrist): ``1 - |ac| / (|ab| + |bc|)``, 0 for a straight limb, ~0.3 at a right angle; 0 where
    no side is fully visible. Scale- and translation-free."""
    out = np.zeros(kps.shape[0], np.float32)
    for side in ("left", "right"):
        ia, ib, ic = KP[f"{side}_{a}"], KP[f"{side}_{b}"], KP[f"{side}_{c}"]
        vis = ok[:, ia] & ok[:, ib] & ok[:, ic]
        pa, pb, pc = kps[:, ia, :2], kps[:, ib, :2], kps[:, ic, :2]
        chain = np.linalg.norm(pa - pb, axis=1) + np.linalg.norm(pb - pc, axis=1)
        bend = 1.0 - np.linalg.norm(pa - pc, axis=1) / np.maximum(chain, 1e-3)
        out = np.maximum(out, np.where(vis & (chain > 1e-3), bend, 0.0).astype(np.float32))
    return out


def torso_tilt(kps: F32, ok: npt.NDArray[np.bool_]) -> tuple[F32, F32]:
    """|sin| of the shoulder-mid -> hip-mid line against the vertical (0 upright, 1 lying), and
    whether it could be measured (at least one shoulder and one hip visible)."""
    sh = (KP["left_shoulder"], KP["right_shoulder"])
    hp = (KP["left_hip"], KP["right_hip"])

    def mid(idx: tuple[int, int]) -> tuple[F32, npt.NDArray[np.bool_]]:
        m = ok[:, idx].astype(np.float32)
        cnt = m.sum(axis=1)
        xy = (kps[:, idx, :2] * m[:, :, None]).sum(axis=1) / np.maximum(cnt, 1)[:, None]
        return xy.astype(np.float32), cnt > 0

    s_xy, s_ok = mid(sh)
    h_xy, h_ok = mid(hp)
    v = s_xy - h_xy
    norm = np.linalg.norm(v, axis=1)
    good = s_ok & h_ok & (norm > 1e-3)
    tilt = np.where(good, np.abs(v[:, 0]) / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    return tilt, good.astype(np.float32)


ACTIVE_JOINTS = tuple(KP[f"{side}_{j}"] for j in ("elbow", "wrist", "knee", "ankle")
                      for side in ("left", "right"))


def limb_activity(grid: Series, rate_hz: float, min_kp_score: float = 0.3) -> F32:
    """Per step: mean speed of elbows, wrists, knees and ankles relative to the box centre, in
    body heights per second (0 where none is visible twice in a row). More joints than the
    ``limb_speed`` feature, so people cut off at the knees by the frame (close-ups, crowded
    scenes) still show their arms working."""
    b = grid.boxes
    centre = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    ok = grid.keypoints[:, :, 2] >= min_kp_score
    v = _kp_speed(grid.keypoints, ACTIVE_JOINTS, centre.astype(np.float32), ok, 1.0 / rate_hz)
    out: F32 = np.clip(v / body_scale(b), 0.0, SPEED_CLIP).astype(np.float32)
    return out


def box_deformation(grid: Series, rate_hz: float) -> F32:
    """Per step: how fast the box changes shape, ``(|dw| + |dh|) / dt`` in body heights per
    second. A walker's box mostly translates; two people grappling, shoving and swinging make
    their boxes stretch and shrink erratically. The fallback for fights where the pose is too
    poor (low resolution, occlusion) to measure limbs."""
    b = grid.boxes
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    out: F32 = np.zeros(len(grid), np.float32)
    if len(grid) > 1:
        out[1:] = (np.abs(np.diff(w)) + np.abs(np.diff(h))) * rate_hz
    res: F32 = np.clip(out / body_scale(b), 0.0, SPEED_CLIP).astype(np.float32)
    return res
