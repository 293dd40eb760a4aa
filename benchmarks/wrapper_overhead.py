"""Wrapper overhead: ``ModelSession`` + node preprocessing vs a bare ONNX Runtime session.

Usage (from the repo root, data read in place)::

    nice -n 10 .venv/bin/python benchmarks/wrapper_overhead.py \
        --models-dir ../shared/models --n 100 yolox_nano yunet

The measurement itself is ``node.inference.overhead.measure_wrapper_overhead`` (re-exported
here), so ``citywatch bench`` reports the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from node.inference.overhead import measure_wrapper_overhead
from node.inference.session import SessionOptions
from node.registry.defaults import default_registry

__all__ = ["measure_wrapper_overhead"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="Registry models (default: all).")
    p.add_argument("--models-dir", required=True, help="Folder with the model files.")
    p.add_argument("--n", type=int, default=100, help="Frames per path.")
    p.add_argument("--threads", type=int, default=0, help="intra_op threads (0: per core).")
    p.add_argument("--json", action="store_true", help="One JSON line per model.")
    args = p.parse_args(argv)
    reg = default_registry()
    failed = False
    for name in args.names or sorted(reg):
        entry = reg[name]
        r = measure_wrapper_overhead(
            Path(args.models_dir) / entry.file,
            entry.manifest,
            n=args.n,
            options=SessionOptions(intra_op_threads=args.threads),
        )
        failed |= not r["within_10pct"]
        if args.json:
            print(json.dumps(r))
        else:
            print(
                f"{name:<18} bare {r['bare_median_ms']:7.2f} ms (p90 {r['bare_p90_ms']:7.2f})  "
                f"wrapper {r['wrapper_median_ms']:7.2f} ms (p90 {r['wrapper_p90_ms']:7.2f})  "
                f"ratio {r['ratio']:.3f}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
