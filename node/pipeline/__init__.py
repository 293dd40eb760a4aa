"""Per-camera pipeline: motion gate, rate limits, thread-pool inference, lifecycle, stats.

Import from the modules (``node.pipeline.camera`` ...); nothing is re-exported here.
"""
