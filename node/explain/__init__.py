"""Explanations on demand: why did a model say what it said about an image?

One module per method (``cam``, ``gradcam``, ``rise``, ``drise``, ``occlusion``, ``lime``), a
common module for maps, peaks, boxes and overlays (``maps``), one adapter per kind of model
(``fire``, ``detector``, ``faces``) that turns it into a ``Subject`` the perturbation methods can
probe, and the ``Explainer`` that runs a request. No torch: perturbation methods need forward
passes only, and Grad-CAM reads gradients from a graph exported by the workshop.
"""

from node.explain.errors import ExplainError
from node.explain.explainer import Explainer, ExplainModels, ExplainRequest
from node.explain.maps import Explanation

__all__ = ["ExplainError", "ExplainModels", "ExplainRequest", "Explainer", "Explanation"]
