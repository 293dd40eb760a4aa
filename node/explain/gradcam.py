"""Grad-CAM (Selvaraju et al., ICCV 2017) from a graph that already holds the gradients.

The node has no autograd. The workshop exports, beside a model that supports it, an ONNX graph
(``citywatch-train explain export-gradcam``) with two extra outputs: a target layer's activations
``A`` (C, h, w) and the gradient of the chosen class's logit with respect to them, ``dy/dA``; the
class is chosen at run time by the ``class_weights`` input (one-hot). Grad-CAM is then
``ReLU(sum_c mean_xy(dy/dA_c) * A_c)``: one weighted sum, no torch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.explain.maps import FloatMap, resize_map

F32 = npt.NDArray[np.float32]

GRADCAM_INPUTS = ("input", "class_weights")
GRADCAM_OUTPUTS = ("scores", "activations", "gradients")


def grad_cam(activations: F32, gradients: F32) -> FloatMap:
    """``activations`` and ``gradients`` (C, h, w) of one image -> the Grad-CAM map (h, w)."""
    if activations.ndim != 3 or activations.shape != gradients.shape:
        raise ValueError(
            f"activations and gradients must both be (C, h, w), got {activations.shape} and "
            f"{gradients.shape}"
        )
    alpha = gradients.astype(np.float64).mean(axis=(1, 2))
    cam = np.tensordot(alpha, activations.astype(np.float64), axes=(0, 0))
    return np.asarray(np.maximum(cam, 0.0), dtype=np.float32)


def one_hot(index: int, classes: int) -> F32:
    """The ``class_weights`` feed (1, classes) that selects ``index``."""
    if not 0 <= index < classes:
        raise ValueError(f"class index {index} out of range for {classes} classes")
    out = np.zeros((1, classes), np.float32)
    out[0, index] = 1.0
    return out


def explain_gradcam(activations: F32, gradients: F32, size_hw: tuple[int, int]) -> FloatMap:
    """The Grad-CAM map of one image resized to ``size_hw`` (working pixels)."""
    return resize_map(grad_cam(activations, gradients), size_hw[1], size_hw[0])
