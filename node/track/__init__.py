"""Multi-object tracking (ByteTrack-style) and confirmation of tracks into events."""
