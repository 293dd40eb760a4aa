"""Per-camera pipeline: motion gate, rate limits, thread-pool inference, lifecycle, stats.

Import from the modules (``node.pipeline.camera`` ...): re-exporting here would make
``node.sources.capture`` -> ``node.pipeline.motion`` import the whole pipeline, in a cycle.
"""
