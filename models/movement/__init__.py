"""Movement model: synthetic pose sequences, training and ONNX export (torch lives here only)."""
