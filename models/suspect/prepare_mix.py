"""Build the generated training set: GrabCut cut-outs from the *training* split only, pasted on
object-free backgrounds (fire_smoke images labelled only ``default``, a neutral-scene class).

    .venv-train/bin/python -m models.suspect.prepare_mix --shared ../shared \\
        --out runs/suspect/mixsrc -n 600 --seed 0
    # then: citywatch-train data mix --objects runs/suspect/mixsrc/objects \\
    #     --backgrounds runs/suspect/mixsrc/backgrounds --out runs/suspect/mix -n 600

Street videos are NOT used as backgrounds: their frames are the false-positive test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.suspect.dataset import list_images
from models.suspect.mix import MixParams, extract_cutouts, generate
from models.suspect.splits import CLASSES, make_splits


def default_only_backgrounds(shared: Path, dest: Path) -> int:
    """Symlink fire_smoke/train images whose only label is class 1 (``default``) into ``dest``."""
    root = shared / "datasets/fire_smoke/train"
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for img in list_images(root / "images"):
        lbl = root / "labels" / f"{img.stem}.txt"
        ids = {ln.split()[0] for ln in lbl.read_text().splitlines() if ln.strip()}
        if ids == {"1"}:
            link = dest / img.name
            if link.is_symlink():  # re-linked: an older relative link may dangle
                link.unlink()
            link.symlink_to(img.resolve())  # absolute: a relative --shared must not dangle
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shared", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("-n", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-class", type=int, default=150)
    args = p.parse_args(argv)
    splits = make_splits(args.shared, seed=0)
    train = [i for s in splits.values() for i in s["train"]]
    objects = args.out / "objects"
    counts = extract_cutouts(
        [(i.image, i.class_ids, i.boxes) for i in train], CLASSES, objects,
        per_class=args.per_class,
    )  # fmt: skip
    n_bg = default_only_backgrounds(args.shared, args.out / "backgrounds")
    params = MixParams(max_objects=3, occluder_p=0.2, negative_p=0.1, min_size=0.06)
    report = generate(
        objects, args.out / "backgrounds", args.out / "mix", args.n, args.seed, params
    )
    report.update({"cutouts": counts, "backgrounds": n_bg})
    print(json.dumps(report, indent=1))
    (args.out / "mix_report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
