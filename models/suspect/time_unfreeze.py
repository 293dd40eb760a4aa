"""Seconds per training iteration (forward + backward, batch 8, one torch thread) for each
``train.py --unfreeze`` mode, on random tensors: what the budget of a run with a trainable
darknet can afford (the SimOTA loss and data loading come on top, the same for every mode).

    nice -n 10 .venv-train/bin/python -m models.suspect.time_unfreeze --size 416

Modes: ``neck`` (v2: neck rest + head on cached c3 / neck_top), ``dark5`` (dark4 run without
gradients from cached c3), ``dark4`` (from cached c3), ``all`` (the whole network from the image).
"""

from __future__ import annotations

import argparse
import time

import torch

from models.suspect.yolox_torch import YoloxNano


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=416)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--n", type=int, default=4)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    net = YoloxNano(4)
    bb = net.backbone
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    with torch.no_grad():
        c3 = bb.dark3(bb.dark2(bb.stem(x)))
        c4 = bb.dark4(c3)
        top = bb.neck_top(c4, bb.dark5(c4))

    def step(mode: str) -> None:
        if mode == "neck":
            out = net.head(bb.neck_rest(c3, *top))
        elif mode == "dark5":
            out = net.head(bb.neck(c3, c4, bb.dark5(c4)))
        elif mode == "dark4":
            c4_ = bb.dark4(c3)
            out = net.head(bb.neck(c3, c4_, bb.dark5(c4_)))
        else:
            out = net(x)
        out.pow(2).mean().backward()
        net.zero_grad()

    for mode in ("neck", "dark5", "dark4", "all"):
        step(mode)  # warm-up
        t = time.perf_counter()
        for _ in range(args.n):
            step(mode)
        print(f"{args.size} {mode} {(time.perf_counter() - t) / args.n:.3f} s/it", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
