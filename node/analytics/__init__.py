"""Analytics: the models the pipeline runs on frames, behind one interface."""
