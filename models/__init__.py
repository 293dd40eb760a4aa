"""Training, evaluation and export of citywatch models (torch lives only here)."""
