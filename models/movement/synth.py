"""Parametric synthetic pose sequences for the movement classifier (numpy only, seeded).

A 17-joint 3D skeleton (body height 1) is driven by a few joint angles over time: gait cycles at
walking and running speeds, falls (forward, backward, sideways; straight or collapsing at the
knees first), sitting down, bending, kicking, standing still, two-person scuffles and calm pairs.
Gaits cover ground consistently (speed = step length x cadence, the step set by the leg swing).
Each sequence is seen by a random camera (yaw around the person, elevation 0-45 degrees, scale,
position; half of them with perspective, so paths towards the camera make the person grow),
gaits played back at a random rate (half at real time, the rest 0.4x-2x: slow motion,
time-lapse; other motions at real time),
sampled at a random rate, with keypoint noise, dropout and missing frames, then turned
into a ``Series`` (box from the keypoints plus margins) -- the same type the node builds from real
tracks, so ``node.movement.features`` computes the training features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from node.movement.features import Series, resample, window_features

CLASSES = ("still", "walk", "run", "fall", "fight", "other")
F = npt.NDArray[np.float64]


@dataclass
class Pose3D:
    """Angles (radians) and the pelvis position of one instant."""

    pelvis: F  # (3,) x forward, y up, z left (world)
    heading: float = 0.0  # rotation about y
    pitch: float = 0.0  # torso lean forward (+) / back (-)
    roll: float = 0.0  # torso lean sideways
    hip: tuple[float, float] = (0.0, 0.0)  # flexion (leg forward +)
    knee: tuple[float, float] = (0.0, 0.0)  # flexion (>= 0)
    shoulder: tuple[float, float] = (0.0, 0.0)  # flexion (arm forward +)
    elbow: tuple[float, float] = (0.0, 0.0)
    abduct: tuple[float, float] = (0.15, 0.15)
    body_tilt: tuple[float, float] = (0.0, 0.0)  # whole-body rotation about the feet (fwd, side)


def _rot_x(a: float) -> F:  # about the forward axis (sideways lean)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a: float) -> F:  # about the lateral axis (+: top goes forward)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T


def _rot_y(a: float) -> F:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _limb(origin: F, flex: float, length: float, abduct: float = 0.0, side: float = 0.0) -> F:
    d = np.array([np.sin(flex), -np.cos(flex), 0.0])
    d = _rot_x(side * abduct) @ d
    return origin + length * d


def skeleton(p: Pose3D) -> F:
    """(17, 3) joint positions in world coordinates (COCO order)."""
    j = np.zeros((17, 3))
    torso = _rot_z(p.pitch) @ _rot_x(p.roll)
    up = torso @ np.array([0, 1.0, 0])
    neck = up * 0.30
    head = up * 0.40
    fwd = torso @ np.array([1.0, 0, 0])
    lat = torso @ np.array([0, 0, 1.0])
    j[0] = head + fwd * 0.05
    eyes = head + up * 0.02 + fwd * 0.04
    j[1], j[2] = eyes + lat * 0.03, eyes - lat * 0.03
    j[3], j[4] = head + lat * 0.07, head - lat * 0.07
    for k, side in ((0, 1.0), (1, -1.0)):
        sh = neck - up * 0.02 + lat * 0.13 * side
        j[5 + k] = sh
        el = sh + torso @ (_limb(np.zeros(3), p.shoulder[k], 0.17, p.abduct[k], side))
        j[7 + k] = el
        j[9 + k] = el + torso @ (_limb(np.zeros(3), p.shoulder[k] + p.elbow[k], 0.16,
                                       p.abduct[k], side))
        hip = np.array([0, 0, 0.09 * side])
        j[11 + k] = hip
        kn = _limb(hip, p.hip[k], 0.245)
        j[13 + k] = kn
        j[15 + k] = _limb(kn, p.hip[k] - p.knee[k], 0.245)
    # whole-body tilt about the lowest foot (falls), then heading, then translation
    foot = j[15:17].min(axis=0) * np.array([0, 1, 0]) + j[15:17].mean(axis=0) * np.array([1, 0, 1])
    tilt = _rot_z(p.body_tilt[0]) @ _rot_x(p.body_tilt[1])
    j = (j - foot) @ tilt.T + foot
    out: F = j @ _rot_y(p.heading).T + p.pelvis
    return out


@dataclass(frozen=True)
class Camera:
    yaw: float
    elevation: float
    scale: float  # pixels per body height
    origin: tuple[float, float]
    noise: float  # keypoint noise, fraction of the scale
    dropout: float  # per keypoint probability of being missed
    frame_drop: float  # probability that a whole frame has no pose
    # a panning camera following the person: 0 fixed, 1 keeps them centred (no image-space
    # travel); operators and phone footage lag behind, so anything in between
    follow: float = 0.0
    # perspective: the camera's distance from the start point in body heights (0: orthographic).
    # A person walking towards the camera then grows in the picture instead of standing still.
    distance: float = 0.0


def project(joints: F, cam: Camera) -> F:
    """View from ``cam`` -> (17, 2) image pixels (y down): orthographic, or a pinhole at
    ``cam.distance`` body heights (``scale`` pixels per body height at that distance)."""
    r = _rot_y(-cam.yaw)
    p = joints @ r.T
    ce, se = np.cos(cam.elevation), np.sin(cam.elevation)
    depth = p[:, 0]
    x = p[:, 2]
    y = p[:, 1] * ce - depth * se
    k = np.ones_like(x)
    if cam.distance > 0:  # depth along the viewing axis, + away from the camera
        along = depth * ce + p[:, 1] * se
        k = cam.distance / np.maximum(cam.distance + along, 0.25 * cam.distance)
    return np.stack([cam.origin[0] + k * x * cam.scale, cam.origin[1] - k * y * cam.scale],
                    axis=1)


Motion = Callable[[float], Pose3D]


def _gait(rng: np.random.Generator, speed: float, freq: float, hip_amp: float, knee_amp: float,
          arm_amp: float, lean: float, bob: float, elbow: float,
          heading: float | None = None) -> Motion:
    drawn = rng.uniform(-np.pi, np.pi)
    heading = drawn if heading is None else heading
    phase = rng.uniform(0, 2 * np.pi)

    def at(t: float) -> Pose3D:
        ph = 2 * np.pi * freq * t + phase
        dist = speed * t
        pel = np.array([dist * np.cos(heading), 0.53 + bob * abs(np.sin(ph)),
                        -dist * np.sin(heading)])
        hips = (hip_amp * np.sin(ph), hip_amp * np.sin(ph + np.pi))
        knees = (knee_amp * max(0.0, np.sin(ph + 1.2)) + 0.05,
                 knee_amp * max(0.0, np.sin(ph + np.pi + 1.2)) + 0.05)
        arms = (arm_amp * np.sin(ph + np.pi), arm_amp * np.sin(ph))
        return Pose3D(pel, heading, lean, 0.0, hips, knees, arms, (elbow, elbow))

    return at


def _still(rng: np.random.Generator) -> Motion:
    heading = rng.uniform(-np.pi, np.pi)
    sway = rng.uniform(0.0, 0.02)
    gesture = rng.uniform(0.0, 0.6) if rng.random() < 0.4 else 0.0
    gf = rng.uniform(0.3, 1.0)

    def at(t: float) -> Pose3D:
        pel = np.array([sway * np.sin(0.7 * t), 0.53, 0.0])
        g = gesture * max(0.0, np.sin(2 * np.pi * gf * t))
        return Pose3D(pel, heading, 0.02, 0.0, (0.0, 0.0), (0.05, 0.05), (g, 0.0), (g, 0.1))

    return at


def _smooth(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


def _fall(rng: np.random.Generator, t0: float, get_up_after: float | None = None,
          crawl_speed: float = 0.0) -> Motion:
    """Upright (maybe walking) until ``t0``, a fast fall, then lying with small movements --
    or, ``get_up_after`` seconds after landing, getting back up (0.8 s), or crawling away along
    the world x axis at ``crawl_speed`` body heights per second."""
    dur = rng.uniform(0.35, 1.1)
    direction = rng.choice(["forward", "backward", "side"])
    collapse = rng.random() < 0.4  # knees buckle first (the elderly fall), then tip over
    walk_speed = rng.uniform(0.0, 0.9) if rng.random() < 0.6 else 0.0
    base = _gait(rng, walk_speed, rng.uniform(0.8, 1.05), 0.35, 0.6, 0.3, 0.05, 0.01, 0.2)
    end_angle = rng.uniform(1.3, 1.6)

    def at(t: float) -> Pose3D:
        p = base(min(t, t0))
        u = (t - t0) / dur
        if u <= 0:
            return p
        k = _smooth(u) ** 1.5  # accelerating like a body under gravity
        ang = end_angle * k
        if collapse:
            drop = 0.25 * _smooth(u * 1.6)
            p.pelvis = p.pelvis - np.array([0, drop, 0])
            p.knee = (1.4 * _smooth(u * 1.6), 1.4 * _smooth(u * 1.6))
            p.hip = (1.0 * _smooth(u * 1.6), 1.0 * _smooth(u * 1.6))
            ang = end_angle * _smooth((u - 0.4) / 0.6) ** 1.5
        if direction == "forward":
            p.body_tilt = (ang, 0.0)
        elif direction == "backward":
            p.body_tilt = (-ang, 0.0)
        else:
            p.body_tilt = (0.0, ang * rng_side)
        wiggle = 0.1 * np.sin(3 * max(t - t0 - dur, 0))
        p.shoulder = (p.shoulder[0] + 1.2 * _smooth(u) + wiggle, p.shoulder[1] + 1.0 * _smooth(u))
        landed = max(0.0, t - t0 - dur)
        if get_up_after is not None:
            up = _smooth((landed - get_up_after) / 0.8)  # back on the feet, reversing the fall
            p.body_tilt = (p.body_tilt[0] * (1 - up), p.body_tilt[1] * (1 - up))
            p.knee = (p.knee[0] * (1 - up), p.knee[1] * (1 - up))
            p.hip = (p.hip[0] * (1 - up), p.hip[1] * (1 - up))
            p.pelvis = p.pelvis + np.array([0.0, 0.25 * up if collapse else 0.0, 0.0])
        if crawl_speed:
            p.pelvis = p.pelvis + np.array([crawl_speed * landed, 0.0, 0.0])
        return p

    rng_side = float(rng.choice([-1.0, 1.0]))
    return at


def _sit(rng: np.random.Generator, t0: float) -> Motion:
    dur = rng.uniform(0.7, 2.0)
    depth = rng.uniform(0.18, 0.28)
    heading = rng.uniform(-np.pi, np.pi)

    def at(t: float) -> Pose3D:
        u = _smooth((t - t0) / dur)
        lean = 0.5 * np.sin(np.pi * u) + 0.1 * u
        pel = np.array([-0.15 * u, 0.53 - depth * u, 0.0])
        return Pose3D(pel, heading, lean, 0.0, (1.5 * u, 1.5 * u), (1.5 * u + 0.05, 1.5 * u + 0.05),
                      (0.3 * u, 0.3 * u), (0.5 * u, 0.5 * u))

    return at


def _bend(rng: np.random.Generator, t0: float) -> Motion:
    dur = rng.uniform(0.6, 1.5)
    hold = rng.uniform(0.3, 2.0)
    depth = rng.uniform(0.9, 1.6)
    heading = rng.uniform(-np.pi, np.pi)

    def at(t: float) -> Pose3D:
        u = _smooth((t - t0) / dur) - _smooth((t - t0 - dur - hold) / dur)
        knee = 0.4 * u
        pel = np.array([-0.1 * u, 0.53 - 0.05 * u, 0.0])
        return Pose3D(pel, heading, depth * u, 0.0, (knee * 0.5, knee * 0.5), (knee, knee),
                      (depth * u, depth * u), (0.2, 0.2))

    return at


def _kick(rng: np.random.Generator, t0: float) -> Motion:
    heading = rng.uniform(-np.pi, np.pi)
    reps = rng.uniform(0.4, 1.0)

    def at(t: float) -> Pose3D:
        ph = max(0.0, np.sin(2 * np.pi * reps * (t - t0))) if t > t0 else 0.0
        drift = 0.3 * t
        pel = np.array([drift * np.cos(heading), 0.53, -drift * np.sin(heading)])
        return Pose3D(pel, heading, -0.1 * ph, 0.0, (1.3 * ph, -0.2 * ph), (0.6 * (1 - ph), 0.1),
                      (-0.5 * ph, 0.6 * ph), (0.3, 0.3), (0.5 * ph + 0.15, 0.5 * ph + 0.15))

    return at


def _fighter(rng: np.random.Generator, facing: float, offset: F, intensity: float) -> Motion:
    """One of two people trading punches and shoves; ``offset`` is the pelvis position."""
    rates = rng.uniform(1.5, 4.0, size=2)
    phases = rng.uniform(0, 2 * np.pi, size=4)
    shove = rng.uniform(0.1, 0.5) * intensity

    def at(t: float) -> Pose3D:
        pl = [max(0.0, np.sin(2 * np.pi * rates[k] * t + phases[k])) ** 2 for k in range(2)]
        sway = np.array([shove * np.sin(2.3 * t + phases[2]), 0.0,
                         shove * np.sin(1.7 * t + phases[3])])
        pel = offset + sway + np.array([0, 0.53 - 0.04 * intensity, 0])
        shoulder = (0.5 + 1.1 * pl[0] * intensity, 0.5 + 1.1 * pl[1] * intensity)
        elbow = (1.8 * (1 - pl[0]), 1.8 * (1 - pl[1]))
        lean = 0.2 + 0.25 * np.sin(3.1 * t + phases[0]) * intensity
        roll = 0.2 * np.sin(2.7 * t + phases[1]) * intensity
        hips = (0.3 * np.sin(2.0 * t + phases[2]), 0.3 * np.sin(2.0 * t + phases[3]))
        return Pose3D(pel, facing, lean, roll, hips, (0.4, 0.4), shoulder, elbow)

    return at


def _observe(motion: Motion, times: F, cam: Camera, rng: np.random.Generator) -> Series:
    n = len(times)
    kps = np.zeros((n, 17, 3))
    boxes = np.zeros((n, 4))
    # the world is centred on where the person is half-way through (the perspective camera's
    # distance is to that point, so a runner towards the camera does not run into it)
    mid = motion(float(times[n // 2])).pelvis * np.array([1.0, 0.0, 1.0])
    if cam.distance > 0:
        # a camera close enough for the person to walk into it would lose them out of the
        # frame first: stand it at least twice the person's travel away (at most ~2x growth)
        travel = max(float(np.linalg.norm(motion(float(t)).pelvis[[0, 2]] - mid[[0, 2]]))
                     for t in (times[0], times[-1]))
        cam = replace(cam, distance=max(cam.distance, 2.0 * travel))
    start = project(motion(float(times[0])).pelvis[None] - mid, cam)[0]
    for i, t in enumerate(times):
        pose = motion(float(t))
        xy = project(skeleton(pose) - mid, cam)
        if cam.follow:
            xy[:, 0] -= cam.follow * (project(pose.pelvis[None] - mid, cam)[0, 0] - start[0])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        size = max(hi[1] - lo[1], hi[0] - lo[0], 1.0)
        # detector boxes reach above the nose (hair) and below the ankles (feet), and jitter
        margin = np.array([-0.05, -0.1, 0.05, 0.04]) * size * rng.uniform(0.6, 1.4)
        boxes[i] = np.concatenate([lo, hi]) + margin + rng.normal(0, 0.015 * size, 4)
        noisy = xy + rng.normal(0, cam.noise * cam.scale, xy.shape)
        score = rng.uniform(0.35, 0.9, 17)
        score[rng.random(17) < cam.dropout] = rng.uniform(0.0, 0.25)
        if rng.random() < cam.frame_drop:
            score[:] = 0.0
        kps[i, :, :2], kps[i, :, 2] = noisy, score
    return Series(times.astype(np.float32), boxes.astype(np.float32), kps.astype(np.float32))


def fall_sequence(rng: np.random.Generator, duration: float, rate_hz: float, t_fall: float,
                  get_up_after: float | None = None, crawl_speed: float = 0.0) -> Series:
    """A fall at ``t_fall`` seen from the side (yaw 90 degrees, low elevation, no panning),
    then lying, getting up or crawling away: the fall rules' test sequences."""
    times = np.arange(0.0, duration, 1.0 / rate_hz)
    cam = Camera(yaw=np.pi / 2, elevation=rng.uniform(0.0, 0.3), scale=rng.uniform(120, 300),
                 origin=(rng.uniform(250, 350), 400.0), noise=0.005, dropout=0.05,
                 frame_drop=0.0)
    return _observe(_fall(rng, t_fall, get_up_after, crawl_speed), times, cam, rng)


FRAME_WIDTH = 640.0  # the synthetic picture's width (origins 100-500 px)


def gait_sequence(rng: np.random.Generator, running: bool, freq: float, hip_amp: float,
                  playback: float, cam: Camera, duration: float, rate_hz: float,
                  heading: float = 0.0) -> tuple[Series, float, float]:
    """A walker (or runner) with a known gait: ``freq`` cycles per real second, legs swinging
    +-``hip_amp``, seen by ``cam`` at ``playback``. Returns the track, the true cadence in steps
    per *video* second and the true step length in body heights (runners: 1.2 x the contact
    spread). The rules' test sequences."""
    step = step_length(hip_amp, 1.2 if running else 1.0)
    if running:
        m = _gait(rng, step * 2 * freq, freq, hip_amp, 1.4, 0.7, 0.2, 0.03, 1.3, heading)
    else:
        m = _gait(rng, step * 2 * freq, freq, hip_amp, 0.65, 0.3, 0.05, 0.01, 0.25, heading)
    times = np.arange(0.0, duration, 1.0 / rate_hz)
    return _observe(lambda t: m(t * playback), times, cam, rng), 2 * freq * playback, step


def random_camera(rng: np.random.Generator) -> Camera:
    scale = rng.uniform(60, 450)
    return Camera(
        yaw=rng.uniform(-np.pi, np.pi),
        elevation=rng.uniform(0.0, 0.8),
        scale=scale,
        origin=(rng.uniform(100, 500), rng.uniform(200, 500)),
        noise=rng.uniform(0.002, 0.02),
        dropout=rng.uniform(0.0, 0.3),
        frame_drop=rng.uniform(0.0, 0.15),
        follow=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.3 else 0.0,
        # half the cameras with perspective: a lens of 32-90 degrees across FRAME_WIDTH (focal
        # length 320-1100 px) puts the person at focal / scale body heights (at least 6): paths
        # towards or away from the camera (any yaw) then change the person's size
        distance=max(6.0, float(rng.uniform(320.0, 1100.0)) / scale) if rng.random() < 0.5
        else 0.0,
    )


@dataclass(frozen=True)
class Sample:
    label: str
    track: Series
    neighbour: Series | None
    playback: float = 1.0


OTHER_KINDS = ("sit", "bend", "kick")


LEG = 0.49  # hip to ankle, body heights (the skeleton's thigh + shin)


def step_length(hip_amp: float, flight: float = 1.0) -> float:
    """Distance covered per step (body heights) by legs swinging +-``hip_amp`` radians: the
    feet are ``2 LEG sin(hip_amp)`` apart at contact; running adds the airborne part
    (``flight`` >= 1). Speed = step length x cadence, so feet do not slide."""
    return float(2 * LEG * np.sin(hip_amp) * flight)


# Random playback rates are drawn for gaits only: running is judged per step, which needs a
# classifier that tells a slow-motion run from a walk. Falls, sitting down and fights keep real
# time: how fast someone goes down is the evidence that separates a fall from sitting down
# (a sit in time-lapse *is* a fast descent), and the fall rule leans on that.
PLAYBACK_LABELS = ("walk", "run")


def random_playback(rng: np.random.Generator) -> float:
    """Half the clips play at real time; the rest log-uniformly 0.4x-2x (slow motion,
    time-lapse, wrong frame-rate metadata): the video-time rate of everything."""
    return 1.0 if rng.random() < 0.5 else float(np.exp(rng.uniform(np.log(0.4), np.log(2.0))))


def make_sample(label: str, rng: np.random.Generator, duration: float, rate_hz: float,
                kind: str | None = None, playback: float | None = None,
                camera: Camera | None = None, path_angle: float | None = None) -> Sample:
    """One sequence of ``label`` lasting ``duration`` seconds of video, sampled near
    ``rate_hz`` (``kind`` picks the ``other`` motion: sit, bend or kick; random when None).
    ``playback``: how fast the video plays the real motion (0.5 slow motion, 2 time-lapse;
    when None: random by ``random_playback`` for walk and run, real time for the rest);
    ``camera``: a given camera instead of a random one; ``path_angle`` (walk, run): the
    path's angle to the image plane in radians (0 across the picture, pi/2 straight towards
    or away from the camera; random when None)."""
    fps = rate_hz * rng.uniform(0.8, 1.6)
    times = np.arange(0.0, duration, 1.0 / fps) + rng.uniform(0, 10)
    t_rel = times - times[0]
    cam = random_camera(rng) if camera is None else camera
    pb = random_playback(rng) if playback is None else float(playback)
    if playback is None and label not in PLAYBACK_LABELS:
        pb = 1.0
    heading = None
    if path_angle is not None:  # the path's direction relative to the camera's yaw
        heading = cam.yaw + np.pi / 2 - path_angle * rng.choice([-1.0, 1.0]) + \
            np.pi * float(rng.integers(2))
    neighbour_motion: Motion | None = None
    # events land so that their decisive part is inside the window (in video time; the
    # motion runs on real time = video time x playback)
    t_event = float(t_rel[0] + rng.uniform(0.15, 0.55) * duration) * pb
    if label == "walk":
        freq, hip = rng.uniform(0.75, 1.1), rng.uniform(0.3, 0.5)
        speed = step_length(hip) * rng.uniform(0.9, 1.1) * 2 * freq
        m = _gait(rng, speed, freq, hip, rng.uniform(0.5, 0.8), rng.uniform(0.2, 0.45),
                  rng.uniform(0.0, 0.1), 0.01, rng.uniform(0.1, 0.4), heading)
    elif label == "run":
        # from a light jog (bent arms, knees flexing ~0.9 rad) to a sprint; steps of
        # 0.47-1.1 body heights at 2.4-3.4 steps/s (1.1-3.7 heights/s)
        freq, hip = rng.uniform(1.2, 1.7), rng.uniform(0.5, 0.9)
        speed = step_length(hip, rng.uniform(1.0, 1.4)) * 2 * freq
        m = _gait(rng, speed, freq, hip, rng.uniform(0.9, 1.9), rng.uniform(0.5, 0.9),
                  rng.uniform(0.1, 0.3), rng.uniform(0.02, 0.05), rng.uniform(0.9, 1.7),
                  heading)
    elif label == "fall":
        m = _fall(rng, t_event)
    elif label == "fight":
        gap = rng.uniform(0.2, 0.45)
        facing = rng.uniform(-np.pi, np.pi)
        d = np.array([np.cos(facing), 0, -np.sin(facing)]) * gap
        inten = rng.uniform(0.6, 1.0)
        m = _fighter(rng, facing, np.zeros(3), inten)
        neighbour_motion = _fighter(rng, facing + np.pi, d, inten)
    elif label == "still":
        m = _still(rng)
        if rng.random() < 0.4:  # a calm pair chatting close together is not a fight
            d = np.array([rng.uniform(0.25, 0.6), 0, 0])
            other = _still(rng)
            neighbour_motion = lambda t: _shift(other(t), d)  # noqa: E731
    else:  # other: sitting down, bending, kicking
        kind = kind or str(rng.choice(list(OTHER_KINDS)))
        m = {"sit": _sit, "bend": _bend, "kick": _kick}[kind](rng, t_event)
    track = _observe(lambda t: m((t - times[0]) * pb), times, cam, rng)
    neighbour = None
    if neighbour_motion is not None:
        nm = neighbour_motion
        neighbour = _observe(lambda t: nm((t - times[0]) * pb), times, cam, rng)
    elif label in ("walk", "run") and rng.random() < 0.3:  # walking side by side
        d = np.array([0, 0, rng.uniform(0.25, 0.5)])
        neighbour = _observe(lambda t: _shift(m((t - times[0]) * pb), d), times, cam, rng)
    return Sample(label, track, neighbour, pb)


def _shift(p: Pose3D, d: F) -> Pose3D:
    p.pelvis = p.pelvis + d
    return p


def dataset(n_per_class: int, seed: int, rate_hz: float = 8.0, steps: int = 24,
            min_kp_score: float = 0.3) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """``n_per_class`` windows of each class: features ``(N, steps, F)`` and labels ``(N,)``."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    duration = steps / rate_hz
    for ci, label in enumerate(CLASSES):
        for _ in range(n_per_class):
            s = make_sample(label, rng, duration + 0.5, rate_hz)
            t_end = float(s.track.times[-1])
            # young tracks: sometimes only part of the window has been seen
            track = s.track
            if rng.random() < 0.2:
                keep = s.track.times >= t_end - rng.uniform(0.45, 1.0) * duration
                track = Series(s.track.times[keep], s.track.boxes[keep], s.track.keypoints[keep])
            grid = resample(track, t_end, rate_hz, steps)
            nb = resample(s.neighbour, t_end, rate_hz, steps) if s.neighbour is not None else None
            xs.append(window_features(grid, rate_hz, nb, min_kp_score))
            ys.append(ci)
    return np.stack(xs).astype(np.float32), np.asarray(ys, np.int64)
