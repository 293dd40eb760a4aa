"""Fire and smoke: scene-level classifier, CAM localisation, k-of-n alarms (issue 5)."""
