"""``citywatch-train``: the workshop's command line (training, datasets, model evaluation,
conversion). The node's ``citywatch`` never imports this package."""
