"""``citywatch eval faces --gallery DIR --probes DIR``: closed-set accuracy, open-set FAR/FRR at
the configured threshold, a threshold sweep and leave-one-identity-out false accepts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(esub: Any) -> None:
    p: argparse.ArgumentParser = esub.add_parser(
        "faces", help="Face recognition: accuracy, FAR/FRR, threshold sweep, LOIO."
    )
    p.add_argument("--gallery", required=True, help="Enrollment folder <root>/<person>/*.jpg.")
    p.add_argument("--probes", required=True, help="Probe folder <root>/<person>/*.jpg; "
                   "people absent from the gallery count as unknowns.")
    p.add_argument("--config", "-c", help="Node config (threshold, margin, models).")
    p.add_argument(
        "--models", help="Folder with the .onnx files (default: the model registry)."
    )
    p.add_argument("--threshold", type=float, help="Override faces.match_threshold.")
    p.add_argument("--margin", type=float, help="Override faces.match_margin.")
    p.add_argument("--json", action="store_true", help="Print the report as JSON.")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from node.cli.faces_cmd import face_engine
    from node.config import ConfigError, load_config
    from node.face.evaluate import (
        closed_set_accuracy,
        embed_tree,
        leave_one_identity_out,
        open_set,
        sweep,
    )
    from node.inference.errors import ModelError

    try:
        cfg = load_config(args.config)
        engine = face_engine(cfg, args.models)
    except (ConfigError, ModelError) as err:
        print(f"citywatch eval faces: error: {err}", file=sys.stderr)
        return 2
    fc = cfg.analytics.faces
    t = fc.match_threshold if args.threshold is None else args.threshold
    m = fc.match_margin if args.margin is None else args.margin
    gallery, probes = embed_tree(engine, args.gallery), embed_tree(engine, args.probes)
    correct, total = closed_set_accuracy(gallery, probes)
    rates = open_set(gallery, probes, t, m)
    loio = leave_one_identity_out(gallery, probes, t, m)
    table = sweep(gallery, probes, np.round(np.arange(0.20, 0.81, 0.05), 2), m)
    report: dict[str, Any] = {
        "embedder": engine.embedder.label,
        "gallery": {"images": len(gallery.labels), "identities": len(set(gallery.labels)),
                    "failures": gallery.failures},
        "probes": {"images": len(probes.labels), "failures": probes.failures},
        "closed_set": {"correct": correct, "total": total},
        "open_set": {"threshold": t, "margin": m, "known": rates.known,
                     "unknown": rates.unknown, "false_rejects": rates.false_rejects,
                     "misidentified": rates.misidentified, "false_accepts": rates.false_accepts},
        "loio": [r.__dict__ for r in loio],
        "sweep": [{"threshold": float(r.threshold), "frr": r.frr, "misidentified":
                   r.misidentified, "loio_false_accepts": fa, "loio_trials": n}
                  for r, fa, n in table],
    }
    if args.json:
        print(json.dumps(report, indent=1, default=str))
        return 0
    _print(report, rates)
    return 0


def _print(r: dict[str, Any], rates: Any) -> None:
    g, p, c, o = r["gallery"], r["probes"], r["closed_set"], r["open_set"]
    print(f"embedder {r['embedder']}; gallery {g['images']} images of {g['identities']} "
          f"identities ({len(g['failures'])} without a face); probes {p['images']} "
          f"({len(p['failures'])} without a face)")
    acc = c["correct"] / c["total"] if c["total"] else 0.0
    print(f"closed-set accuracy: {c['correct']}/{c['total']} = {acc:.1%}")
    print(f"open-set @ threshold {o['threshold']:.2f} margin {o['margin']:.2f}: "
          f"FRR {rates.frr:.1%} ({o['false_rejects']}/{o['known']}, {o['misidentified']} "
          f"misidentified), FAR {rates.far:.1%} ({o['false_accepts']}/{o['unknown']} unknowns)")
    trials = sum(x["probes"] for x in r["loio"])
    fas = sum(x["false_accepts"] for x in r["loio"])
    print(f"leave-one-identity-out @ {o['threshold']:.2f}: {fas} false accepts / {trials} trials")
    for x in r["loio"]:
        print(f"  {x['identity']:<20} {x['false_accepts']}/{x['probes']} "
              f"max sim to others {x['max_similarity']:.3f} {x['accepted_as'] or ''}")
    print("threshold  FRR     misid  LOIO-FA")
    for row in r["sweep"]:
        print(f"  {row['threshold']:.2f}    {row['frr']:6.1%}  {row['misidentified']:>5}  "
              f"{row['loio_false_accepts']}/{row['loio_trials']}")
