"""The ``movement`` analytic: people -> tracks -> pose -> feature windows -> rules + classifier.

Per analysed frame (about 8 Hz): the YOLOX detector finds people and the ByteTrack-style tracker
keeps their ids; MoveNet MultiPose finds up to 6 skeletons, each matched to a track by IoU. Every
track keeps a short history; its fixed-rate window feeds the temporal classifier, and the rules
decide: a fall is the ``FallMachine``'s (descent, then the ground), running needs a speed, a fight
needs two people close together with fast limbs. One ``movement`` observation per (track, action)
while the action holds, with the evidence in ``attributes``. After a fall or a fight the
escalation hook (if any) is asked to identify the people involved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from node.analytics.base import AnalysisResult, Observation
from node.boxes import box_iou
from node.detect.detections import Detections
from node.detect.yolox import DetectorSession, detect
from node.frame import Frame
from node.movement.camera_motion import PanEstimator
from node.movement.classifier import MovementClassifier
from node.movement.escalation import Escalation, EscalationRequest
from node.movement.events import ESCALATING_ACTIONS, EVENT_TYPE, SEVERITY
from node.movement.features import (
    FEATURE_INDEX,
    Series,
    box_deformation,
    limb_activity,
    resample,
    window_features,
)
from node.movement.gait import RunParams, gait_evidence, running
from node.movement.pose import Poses
from node.movement.pose_estimator import PoseEstimator
from node.movement.rules import FallMachine, FallParams, FallState, FightParams, fighting_pairs
from node.movement.tracks import PersonTrack, at_border, centre_distance, match_poses
from node.track.bytetrack import ByteTracker, TrackerParams
from schemas.attributes import MovementAttributes
from schemas.config.movement import ACTIONS, MovementConfig

# COCO detectors rarely call a person lying on the floor a person: they see a cat, a dog or a
# teddy bear there. Such boxes may *continue* a person track (never start one).
LYING_PROXIES = frozenset({"cat", "dog", "bear", "teddy bear", "sheep", "cow", "horse"})
PROXY_MIN_IOU = 0.3
INHERIT_MIN_IOU = 0.2  # a new track this close to a lost, falling one is the same person
KEEP_LOST_S = 5.0  # a lost track's fall machine keeps running this long (lying people vanish)


class MovementAnalytic:
    name = "movement"

    def __init__(
        self,
        camera: str,
        config: MovementConfig,
        detector: Callable[[], DetectorSession],
        pose: PoseEstimator,
        classifier: MovementClassifier,
        escalation: Escalation | None = None,
    ) -> None:
        self._camera = camera
        self._cfg = config
        self._detector = detector
        self._pose = pose
        self._clf = classifier
        self._escalation = escalation
        self._tracker = ByteTracker(TrackerParams(
            high_threshold=config.person_confidence * 0.75, low_threshold=0.1,
            new_track_threshold=config.person_confidence, lost_after_s=1.0,
        ))
        self._proxy_score = config.person_confidence * 0.875  # matches first, starts nothing
        f = config.fall
        self._fall_params = FallParams(
            min_drop=f.min_drop, descent_window_s=f.descent_window_s,
            min_descent_speed=f.min_descent_speed, lying_aspect=f.lying_aspect,
            low_height=f.low_height, ground_s=f.ground_s, ground_timeout_s=f.ground_timeout_s,
            recover_height=f.recover_height, vanish_is_ground=f.vanish_is_ground,
            classifier_fall=f.classifier_fall,
        )
        self._fight = FightParams(config.fight_max_distance, config.fight_min_limb_speed,
                                  config.action_threshold)
        self._run = RunParams(config.action_threshold, config.run_min_stride, config.run_min_speed)
        self._frame_w = 0.0  # the latest frame's width: the lens bound of the depth speed
        self._tracks: dict[int, PersonTrack] = {}
        self._grids: dict[int, Series] = {}
        self._pan = PanEstimator() if config.compensate_camera else None
        self._last_frame: Frame | None = None
        self.last_poses = Poses.empty()  # for side-by-side evaluation (the NFD baseline)
        self.counts: dict[str, int] = {a: 0 for a in ACTIONS}

    def reset(self) -> None:
        self._tracker.reset()
        self._tracks.clear()
        if self._pan is not None:
            self._pan.reset()

    def analyze(self, frame: Frame) -> AnalysisResult:
        start = time.perf_counter()
        t = frame.monotonic
        self._last_frame = frame
        self._frame_w = float(frame.width)
        dets = detect(self._detector(), frame.image, score_threshold=0.1, iou_threshold=0.45)
        people = self._people(dets)
        tracked = self._tracker.update(people, t)
        if self._pan is not None:
            self._pan.update(frame.image, people.xyxy)
        poses = self.last_poses = self._pose.estimate(frame.image)
        seen = self._update_tracks(tracked, poses, t, (frame.height, frame.width))
        windows = self._classify(seen, t)
        self._decide(seen, windows, t)
        observations = self._observations(frame, t)
        self._forget(t)
        return AnalysisResult(
            analytic=self.name,
            outputs=self._outputs(seen, poses, t),
            observations=observations,
            inference_ms=(time.perf_counter() - start) * 1000.0,
        )

    def finish(self, t: float) -> list[Observation]:
        """The source ended at ``t`` (end of a video file, or the camera going away for good):
        people seen falling and still down are confirmed fallen now (``at_end``, lower score),
        since no later frame can show them getting up. Returns the observations of that last
        moment (the caller emits them like ``analyze``'s)."""
        for tr in self._tracks.values():
            tr.fall.finish(t)
        if self._last_frame is None:
            return []
        return self._observations(self._last_frame, t)

    def _offset(self) -> npt.NDArray[np.float32]:
        return (np.zeros(2, np.float32) if self._pan is None
                else self._pan.offset.astype(np.float32).copy())

    def fall_states(self) -> dict[int, str]:
        """Fall-machine state of every track still remembered (lost ones included)."""
        return {tid: tr.fall.state.value for tid, tr in self._tracks.items()}

    def _people(self, dets: Detections) -> Detections:
        """Person boxes, plus lying-proxy boxes that overlap a live track (relabelled person,
        scored under the new-track threshold so they extend tracks but never start one)."""
        is_person = dets.labels == "person"
        proxy = np.asarray([str(lbl) in LYING_PROXIES for lbl in dets.labels], np.bool_)
        live = [tr.boxes[-1] for tr in self._tracks.values()]
        if proxy.any() and live:
            iou = box_iou(dets.xyxy[proxy], np.stack(live)).max(axis=1)
            idx = np.flatnonzero(proxy)
            proxy[idx[iou < PROXY_MIN_IOU]] = False
        else:
            proxy[:] = False
        keep = is_person | proxy
        score = np.where(proxy, np.minimum(dets.score, self._proxy_score), dets.score)
        return Detections.from_arrays(
            dets.xyxy[keep], score[keep].astype(np.float32), np.zeros(int(keep.sum()), np.int64),
            ["person"] * int(keep.sum()),
        )

    def _update_tracks(self, tracked: Detections, poses: Poses, t: float,
                       frame_hw: tuple[int, int]) -> list[PersonTrack]:
        kps = match_poses(tracked.xyxy, poses, self._cfg.min_pose_iou)
        assert tracked.tracker_id is not None
        seen: list[PersonTrack] = []
        for i, tid in enumerate(tracked.tracker_id.tolist()):
            box = tracked.xyxy[i].astype(np.float32)
            tr = self._tracks.get(tid)
            if tr is None:
                tr = self._tracks[tid] = PersonTrack(tid, self._inherit(box, t))
            tr.add(t, box, kps[i], self._offset())
            tr.fall.update(t, box, tr.probs.get("fall", 0.0))
            seen.append(tr)
        ids = {tr.tid for tr in seen}
        for tr in self._tracks.values():
            if tr.tid not in ids:
                left = at_border(tr.boxes[-1], frame_hw)
                tr.fall.missing(t, left_picture=left)
        return seen

    def _inherit(self, box: npt.NDArray[np.float32], t: float) -> FallMachine:
        """A new track where a falling one was just lost continues its fall machine (the
        detector lost the person mid-fall and found them again on the floor)."""
        for tr in self._tracks.values():
            falling = tr.fall.state in (FallState.DESCENDING, FallState.GROUND)
            if (tr.last_seen < t and falling
                    and float(box_iou(box[None], tr.boxes[-1][None])[0, 0]) >= INHERIT_MIN_IOU):
                machine = tr.fall
                tr.fall = FallMachine(self._fall_params)  # the old id no longer falls
                return machine
        return FallMachine(self._fall_params)

    def _window(self, tr: PersonTrack, t: float, grid_of: dict[int, Series]) -> Series:
        if tr.tid not in grid_of:
            m = self._clf.manifest
            grid_of[tr.tid] = resample(tr.series(), t, m.rate_hz, m.steps)
        return grid_of[tr.tid]

    def _classify(self, seen: list[PersonTrack], t: float) -> dict[int, npt.NDArray[np.float32]]:
        m = self._clf.manifest
        ready = [tr for tr in seen if len(tr.times) >= self._cfg.min_steps]
        grids: dict[int, Series] = {}
        windows: dict[int, npt.NDArray[np.float32]] = {}
        for tr in ready:
            others = [o for o in seen if o is not tr]
            nb = min(others, key=lambda o: centre_distance(o, tr), default=None)
            nb_grid = self._window(nb, t, grids) if nb is not None else None
            windows[tr.tid] = window_features(self._window(tr, t, grids), m.rate_hz, nb_grid,
                                              self._cfg.min_keypoint_score)
        probs = self._clf.predict(list(windows.values()))
        for tid, p in zip(windows, probs, strict=True):
            self._tracks[tid].probs = p
        self._grids = grids
        return windows

    def _decide(self, seen: list[PersonTrack], windows: dict[int, npt.NDArray[np.float32]],
                t: float) -> None:
        cfg = self._cfg
        recent = 3  # steps (~0.4 s) of speeds: one glitchy step is not running or fighting
        speed: dict[int, float] = {}
        limbs: dict[int, float] = {}
        active: dict[int, float] = {}
        deform: dict[int, float] = {}
        rate = self._clf.manifest.rate_hz
        for tid, w in windows.items():
            v = np.hypot(w[-recent:, FEATURE_INDEX["vx"]], w[-recent:, FEATURE_INDEX["vy"]])
            speed[tid] = float(np.median(v))
            limbs[tid] = float(np.median(w[-recent:, FEATURE_INDEX["limb_speed"]]))
            grid = self._grids[tid]
            active[tid] = float(np.median(
                limb_activity(grid, rate, cfg.min_keypoint_score)[-recent:]))
            deform[tid] = float(np.median(box_deformation(grid, rate)[-recent:]))
        ready = [tr for tr in seen if tr.tid in windows]
        fighters: set[int] = set()
        if len(ready) >= 2:
            # motion: limbs relative to the body (eight joints) or, where the pose is too poor
            # to see them (low resolution, cut off, occluded), the box changing shape
            pairs = fighting_pairs(
                np.stack([tr.boxes[-1] for tr in ready]).astype(np.float32),
                np.asarray([max(active[tr.tid], deform[tr.tid]) for tr in ready], np.float32),
                np.asarray([tr.probs.get("fight", 0.0) for tr in ready], np.float32),
                self._fight,
            )
            fighters = {ready[k].tid for pair in pairs for k in pair}
        for tr in ready:
            p = tr.probs
            thr = cfg.action_threshold
            moving = max(speed[tr.tid], limbs[tr.tid])
            tr.evidence = {"speed": round(speed[tr.tid], 3), "limb_speed": round(limbs[tr.tid], 3),
                           "activity": round(active[tr.tid], 3),
                           "box_deform": round(deform[tr.tid], 3)}
            tr.vote("walk", p.get("walk", 0.0) >= thr, cfg.vote_n)
            # running: ground covered per step (playback-rate free), see rules.RunParams
            gait = gait_evidence(self._grids[tr.tid], rate, self._frame_w or None, self._run,
                                 cfg.min_keypoint_score)
            tr.evidence.update(gait.as_dict())
            tr.vote("run", running(gait, p.get("run", 0.0), moving, self._run), cfg.vote_n)
            tr.vote("fight", tr.tid in fighters, cfg.vote_n)

    def _active(self, tr: PersonTrack, action: str) -> bool:
        if action == "fall":
            return tr.fall.state is FallState.FALLEN
        q = tr.votes.get(action)
        return q is not None and sum(q) >= self._cfg.vote_k

    def _observations(self, frame: Frame, t: float) -> list[Observation]:
        out: list[Observation] = []
        for tr in self._tracks.values():
            for action in self._cfg.actions:
                if not self._active(tr, action):
                    continue
                if action in ("run", "walk") and tr.last_seen < t:
                    continue  # a lost track is not running any more
                if action not in tr.counted:
                    tr.counted.add(action)
                    self.counts[action] += 1
                out.append(self._observation(tr, action, t))
                if action in ESCALATING_ACTIONS and action not in tr.escalated:
                    self._escalate(frame, action, tr)
        # walking while running is just running
        running = {o.key.split(":")[0] for o in out if o.label == "run"}
        return [o for o in out if not (o.label == "walk" and o.key.split(":")[0] in running)]

    def _observation(self, tr: PersonTrack, action: str, t: float) -> Observation:
        attrs: dict[str, Any] = {"track_id": tr.tid, "action": action,
                                 "probs": {k: round(v, 3) for k, v in tr.probs.items()},
                                 **tr.evidence}
        if action == "fall":
            st = tr.fall.status(t)
            attrs.update(descent_speed=round(st.descent_speed, 3), drop=round(st.drop, 3),
                         time_on_ground_s=round(st.time_on_ground_s, 2),
                         visible=tr.last_seen >= t, at_end=st.at_end)
            score = min(1.0, 0.5 + 0.25 * st.descent_speed)
            if st.at_end:  # less seen: on the ground for less than ground_s
                score *= 0.6
        else:
            q = tr.votes[action]
            attrs["votes"] = f"{sum(q)}/{len(q)}"
            score = tr.probs.get(action, 0.0)
        return Observation(
            key=f"{tr.tid}:{action}", type=EVENT_TYPE, label=action, score=float(score),
            box=tr.boxes[-1].copy(), severity=SEVERITY[action],
            attributes=MovementAttributes.model_validate(attrs),
        )

    def _escalate(self, frame: Frame, action: str, tr: PersonTrack) -> None:
        """One request per incident: a fight names every fighter seen with ``tr`` and marks them
        all escalated, so the other fighters' tracks do not ask again; a request whose tracks
        were all escalated already for that action is skipped."""
        involved = [tr]
        if action == "fight":
            involved += [o for o in self._tracks.values() if o is not tr
                         and o.last_seen == tr.last_seen and self._active(o, "fight")]
        if all(action in o.escalated for o in involved):
            return
        for o in involved:
            o.escalated.add(action)
        if self._escalation is None or not self._cfg.escalate_faces:
            return
        self._escalation(EscalationRequest(
            camera=self._camera, action=action,
            track_ids=tuple(o.tid for o in involved),
            boxes=tuple(tuple(float(v) for v in o.boxes[-1]) for o in involved),  # type: ignore[misc]
            frame=frame,
        ))

    def _forget(self, t: float) -> None:
        stale = [tid for tid, tr in self._tracks.items() if t - tr.last_seen > KEEP_LOST_S]
        for tid in stale:
            del self._tracks[tid]

    def _outputs(self, seen: list[PersonTrack], poses: Poses, t: float) -> dict[str, Any]:
        return {
            "model": self._clf.label,
            "poses": len(poses),
            "tracks": [
                {"track_id": tr.tid, "box": [round(float(v), 1) for v in tr.boxes[-1]],
                 "fall_state": tr.fall.state.value,
                 "probs": {k: round(v, 3) for k, v in tr.probs.items()},
                 "actions": [a for a in self._cfg.actions if self._active(tr, a)]}
                for tr in seen
            ],
            "counts": dict(self.counts),
        }
