"""Running, told by the gait (pure, synchronous): ``gait_evidence`` measures a track's cadence
(the rhythm of the legs' and arms' swing) and its stride per step, ``running`` decides with the
classifier's probability. Per step rather than per second, so slow motion, time-lapse and wrong
frame-rate metadata leave the decision alone (``RunParams``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.movement.features import Series, body_scale
from node.movement.pose import KP

# Joint pairs whose left-right separation swings once per gait cycle (two steps).
GAIT_PAIRS = (("left_ankle", "right_ankle"), ("left_knee", "right_knee"),
              ("left_wrist", "right_wrist"), ("left_elbow", "right_elbow"))


@dataclass(frozen=True)
class RunParams:
    """Running = the classifier says so (posture and dynamics) AND the person moves like a
    runner per step, not per second: the larger of the ground speed and the limbs' speed
    (relative to the body), divided by the cadence, at least ``min_stride`` body heights per
    step -- whatever the playback rate of the video (slow motion, time-lapse and wrong
    frame-rate metadata scale speed and cadence alike and leave their ratio alone).
    ``min_stride`` 0.4 is the old per-second gate (1 body height/s) at the lowest running
    cadence (2.5 steps/s, 150 steps/min). Where no gait rhythm can be measured the per-second
    gate ``min_speed`` decides, as before."""

    min_score: float = 0.5  # classifier probability of "run"
    min_stride: float = 0.4  # body heights per step
    min_speed: float = 1.0  # body heights per second (fallback without a measurable cadence)
    min_periodicity: float = 0.3  # autocorrelation of the leg/arm swing at its period
    # cadence search range in steps per video second: 0.5 (a 0.25x slow-motion walk) to the
    # fastest a window sampled at ``rate_hz`` can show (a cycle of at least 2.5 samples)
    min_cadence: float = 0.5
    # the focal length is unknown: the widest common lens (90 degrees across the frame) gives
    # the smallest distance, hence a lower bound of the speed towards or away from the camera
    focal_per_width: float = 0.5

    def __post_init__(self) -> None:
        if self.min_stride <= 0 or self.min_speed <= 0 or not 0 < self.min_periodicity < 1:
            raise ValueError("need min_stride > 0, min_speed > 0, 0 < min_periodicity < 1")


@dataclass(frozen=True)
class GaitEvidence:
    """How a track covers ground over its window (body heights; per second of video time)."""

    speed: float  # over the ground: across the picture plus towards/away from the camera
    speed_plane: float  # across the picture only
    speed_depth: float  # towards / away (a lower bound; 0 without a frame width)
    cadence: float | None  # steps per second of video; None: no measurable rhythm
    periodicity: float  # autocorrelation at the gait period (0..1)

    @property
    def stride(self) -> float | None:
        """Body heights per step (speed / cadence): independent of the playback rate."""
        return None if not self.cadence else self.speed / self.cadence

    def as_dict(self) -> dict[str, float]:
        """Event evidence (cadence and stride only where the rhythm was measurable)."""
        r = {"speed_ground": round(self.speed, 3), "speed_depth": round(self.speed_depth, 3),
             "periodicity": round(self.periodicity, 2)}
        stride = self.stride
        if self.cadence is not None and stride is not None:
            r["cadence"] = round(self.cadence, 2)
            r["stride"] = round(stride, 3)
        return r


def _autocorr(x: npt.NDArray[np.float64], max_lag: int) -> npt.NDArray[np.float64]:
    """Normalised autocorrelation r[0..max_lag] of a zero-mean signal (unbiased per lag)."""
    n = x.shape[0]
    var = float(np.dot(x, x)) / n
    r = np.zeros(max_lag + 1)
    if var <= 0:
        return r
    for lag in range(max_lag + 1):
        r[lag] = float(np.dot(x[: n - lag], x[lag:])) / (n - lag) / var
    return r


def _detrend(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    t = np.arange(y.shape[0], dtype=np.float64)
    a, b = np.polyfit(t, y, 1)
    out: npt.NDArray[np.float64] = y - (a * t + b)
    return out


def _series_of(sig: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None:
    """Detrended, unit-variance copy of ``sig``; None when it hardly moves."""
    sig = _detrend(sig)
    amp = float(np.std(sig))
    return None if amp < 0.02 else sig / amp


def _rhythm(signals: list[tuple[npt.NDArray[np.float64], float]], max_lag: int,
            min_lag: float) -> tuple[float | None, float]:
    """Period (samples) and strength of the signals' common rhythm: amplitude-weighted mean
    autocorrelation; the first local peak reaching 0.8 of the best one (so a harmonic at
    twice the period does not win), refined by a parabola."""
    if not signals or max_lag < 3:
        return None, 0.0
    r = np.zeros(max_lag + 1)
    for x, w in signals:
        r += w * _autocorr(x, max_lag)
    r /= sum(w for _, w in signals)
    peaks = [k for k in range(2, max_lag) if r[k] >= r[k - 1] and r[k] >= r[k + 1] and r[k] > 0]
    if not peaks:
        return None, 0.0
    best = max(r[k] for k in peaks)
    k = next(k for k in peaks if r[k] >= 0.8 * best)
    den = r[k - 1] - 2 * r[k] + r[k + 1]
    lag = k + (0.5 * (r[k - 1] - r[k + 1]) / den if den < 0 else 0.0)
    return (float(lag) if lag >= min_lag else None), float(r[k])


def observed_steps(grid: Series) -> int:
    """Index of the first grid step the track was actually seen at: ``resample`` holds the
    first sample before the track began, so a young track starts with identical boxes."""
    b = grid.boxes
    k = 0
    while k + 1 < len(grid) and np.array_equal(b[k], b[k + 1]):
        k += 1
    return k


def gait_cadence(grid: Series, rate_hz: float, params: RunParams | None = None,
                 min_kp_score: float = 0.3) -> tuple[float | None, float]:
    """Steps per second (of video time) and the rhythm's strength (autocorrelation at the
    period), from two families of signals over the observed part of the window:

    * once per gait cycle (two steps): the left-right separation of ankles, knees, wrists and
      elbows, each projected on its main axis. Measurable up to 2.5 samples per cycle.
    * once per step, and blind to the pose model swapping left and right (common in side
      views): the distance between the ankles and between the knees, and the box's width
      over its height (legs apart, legs together). Measurable up to 2.5 samples per step.

    The stronger rhythm gives the cadence (a step rhythm that reads half the cycle family's
    cadence is the cycle seen twice, and defers to it). A signal needs its joints in at
    least half of the steps (gaps interpolated) and a swing over 2 % of the body height.
    ``(None, r)`` when neither rhythm reaches ``min_periodicity``."""
    p = params or RunParams()
    first = observed_steps(grid)
    n = len(grid) - first
    max_lag = min(n - n // 3, int(np.floor(2 * rate_hz / p.min_cadence)))  # cycles
    max_lag_step = min(n - n // 3, int(np.floor(rate_hz / p.min_cadence)))
    if max_lag < 4:
        return None, 0.0
    kps = grid.keypoints[first:].astype(np.float64)
    b = grid.boxes[first:].astype(np.float64)
    ok = kps[:, :, 2] >= min_kp_score
    s = body_scale(grid.boxes)
    t = np.arange(n, dtype=np.float64)
    cycle: list[tuple[npt.NDArray[np.float64], float]] = []
    step: list[tuple[npt.NDArray[np.float64], float]] = []
    for a, c in GAIT_PAIRS:
        ia, ic = KP[a], KP[c]
        vis = ok[:, ia] & ok[:, ic]
        if vis.sum() < max(6, n // 2):
            continue
        d = (kps[:, ia, :2] - kps[:, ic, :2]) / s
        d = np.stack([np.interp(t, t[vis], d[vis, k]) for k in range(2)], axis=1)
        centred = d - d.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        along = centred @ vt[0]
        sig = _series_of(along)
        if sig is not None:
            cycle.append((sig, float(np.std(_detrend(along)))))
        if a.endswith(("ankle", "knee")):
            spread = np.linalg.norm(d, axis=1)
            sig = _series_of(spread)
            if sig is not None:
                step.append((sig, float(np.std(_detrend(spread)))))
    aspect = (b[:, 2] - b[:, 0]) / np.maximum(b[:, 3] - b[:, 1], 1.0)
    sig = _series_of(aspect)
    if sig is not None:
        step.append((sig, float(np.std(_detrend(aspect)))))
    lag_c, r_c = _rhythm(cycle, max_lag, 2.5)
    lag_s, r_s = _rhythm(step, max_lag_step, 2.5)
    cyc = 2.0 * rate_hz / lag_c if lag_c is not None and r_c >= p.min_periodicity else None
    stp = rate_hz / lag_s if lag_s is not None and r_s >= p.min_periodicity else None
    if cyc is None or stp is None:
        return (cyc, r_c) if cyc is not None else (stp, r_s if stp is not None else max(r_c, r_s))
    # both rhythms: the stronger one, except that a step signal locked onto the whole cycle
    # (two unlike steps: one leg nearer the camera) reads half the cadence of the cycle family
    if r_c >= r_s or abs(stp - cyc / 2) <= 0.25 * cyc / 2:
        return cyc, r_c
    return stp, r_s


def gait_evidence(grid: Series, rate_hz: float, frame_width: float | None = None,
                  params: RunParams | None = None, min_kp_score: float = 0.3) -> GaitEvidence:
    """Speed over the window's observed part (net travel of the box centre per second, in
    body heights, plus
    the speed towards or away from the camera from the box height's rate of change) and the
    cadence. Net travel over the whole window, not frame-to-frame speed: the jitter of boxes
    and the bob of the gait cancel out. Depth: distance = f/h body heights, so d(distance)/dt
    = -(f/h) d(ln h)/dt; with f = ``focal_per_width`` x the frame width (the widest common
    lens) that is a lower bound. The slopes of ln h and ln w are least-squares fits over the
    window; the smaller counts when they agree in sign."""
    p = params or RunParams()
    b = grid.boxes[observed_steps(grid):].astype(np.float64)  # a young track: its seen part
    n = b.shape[0]
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    s = body_scale(grid.boxes)
    span = (n - 1) / rate_hz
    plane = depth = 0.0
    if n >= 4 and span > 0:
        t = np.arange(n, dtype=np.float64) / rate_hz
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        # fitted velocity of the centre, relative to the body height at each step
        vx = np.polyfit(t, cx / s, 1)[0]
        vy = np.polyfit(t, cy / s, 1)[0]
        plane = float(np.hypot(vx, vy))
        if frame_width:
            # moving in depth scales the whole body: the box's height and width must grow (or
            # shrink) together; the smaller of the two rates counts, none if they disagree
            # (a crouch, an arm raised or a person half hidden by another changes one of them)
            w = np.maximum(b[:, 2] - b[:, 0], 1.0)
            dlnh = float(np.polyfit(t, np.log(h), 1)[0])
            dlnw = float(np.polyfit(t, np.log(w), 1)[0])
            dln = min(abs(dlnh), abs(dlnw)) if dlnh * dlnw > 0 else 0.0
            depth = p.focal_per_width * frame_width / float(np.median(h)) * dln
    cadence, per = gait_cadence(grid, rate_hz, p, min_kp_score)
    return GaitEvidence(float(np.hypot(plane, depth)), plane, depth, cadence, per)


def running(gait: GaitEvidence, run_prob: float, moving: float, params: RunParams) -> bool:
    """The run decision of one step: the classifier's ``run_prob`` and the motion per step.
    ``moving`` is the larger of the body's and the limbs' speed (body heights/s, the limbs
    relative to the body: they carry it on paths towards the camera and for a poorly
    compensated pan); the larger of it and the ground speed, divided by the cadence, must
    reach ``min_stride`` where the gait's rhythm is measurable, else the per-second
    ``min_speed`` applies to ``moving``."""
    if run_prob < params.min_score:
        return False
    if gait.cadence:
        return max(gait.speed, moving) / gait.cadence >= params.min_stride
    return moving >= params.min_speed
