"""Object detection: pre-processing, YOLOX decode, NMS, the ``Detections`` type, labels, zones."""

from node.detect.detections import Detections

__all__ = ["Detections"]
