"""Video false alarms in evaluation: the node's k-of-n alarm counts rises, not frames."""

from __future__ import annotations

import numpy as np

from models.fire.evaluate import smoothed_alarms


def test_smoothed_alarms_count_rises_not_frames() -> None:
    th = {"fire": 0.5, "smoke": 0.5}
    seq = [np.array([v, 0.0], np.float32) for v in [0.9, 0.1, 0.1, 0.1, 0.1]]  # one spike
    assert smoothed_alarms(seq, th) == {"alarm_frame_rate": 0.0, "alarm_events": 0}
    seq = [np.array([v, 0.0], np.float32) for v in [0.9] * 6 + [0.0] * 10]
    r = smoothed_alarms(seq, th)
    assert r["alarm_events"] == 1
    # rises on frame 3 (3 of 5), holds while one of the last 5 >= 0.35: frames 3..10
    assert r["alarm_frame_rate"] == round(8 / 16, 4)
