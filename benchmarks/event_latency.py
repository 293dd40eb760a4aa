"""Event latency from creation (``created_at``) to an MQTT subscriber on loopback.

For each broker (the embedded amqtt broker and a Mosquitto started on a free port) it runs, in the
same process and the same run:

* a **baseline**: a bare aiomqtt client publishing QoS 1 messages stamped with their send time to a
  subscriber (what the broker and the client library cost by themselves);
* the **node**: a real ``Node`` with the ``synthetic`` analytic on a looping video, every event
  written to the durable outbox, then delivered by the drainer.

It prints p50 and p99 of both and their ratio, the only figure comparable across machines.

    python benchmarks/event_latency.py \
        --video ../shared/datasets/videos/pedestrians.mp4 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt

from node.app import Node
from node.broker.embedded import EmbeddedBroker
from schemas.config import NodeConfig
from schemas.config.broker import EmbeddedBrokerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"n": len(values), "p50_ms": float("nan"), "p99_ms": float("nan")}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50_ms": statistics.median(values), "p99_ms": q[98]}


async def _subscribe(
    host: str, port: int, topic: str, out: list[float], ready: asyncio.Event, stamp: str
) -> None:
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(topic, qos=1)
        ready.set()
        async for msg in client.messages:
            now = time.time()
            if "/snapshot" in msg.topic.value:
                continue  # JPEGs published beside the events
            body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
            if stamp == "created_at":
                sent = datetime.fromisoformat(body["created_at"]).timestamp()
            else:
                sent = float(body["t"])
            out.append((now - sent) * 1000.0)


async def baseline(host: str, port: int, n: int, rate_hz: float) -> dict[str, float]:
    lat: list[float] = []
    ready = asyncio.Event()
    sub = asyncio.create_task(_subscribe(host, port, "bench/base", lat, ready, "t"))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiomqtt.Client(host, port, protocol=aiomqtt.ProtocolVersion.V311) as pub:
        for _ in range(n):
            await pub.publish("bench/base", json.dumps({"t": time.time()}), qos=1)
            await asyncio.sleep(1.0 / rate_hz)
    await asyncio.sleep(0.5)
    sub.cancel()
    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
        await sub
    return percentiles(lat)


async def node_run(
    host: str, port: int, video: str, seconds: float, data: Path, embedded: bool, snapshots: bool
) -> dict[str, Any]:
    # embedded: the node starts its own broker on `port`, exactly as in the quick start.
    mqtt: dict[str, Any] = {"keepalive": 10, "port": port}
    if not embedded:
        mqtt["host"] = host
    config = NodeConfig.model_validate(
        {
            "node_id": "bench",
            "data_dir": str(data),
            "mqtt": mqtt,
            "broker": {"port": port},
            "homeassistant": {"enabled": False},
            "snapshots": {"enabled": snapshots},
            "cameras": [
                {"name": "cam", "source": video, "loop": True, "motion": {"enabled": False}}
            ],
            "analytics": {
                "synthetic": {"enabled": True, "every_n_frames": 5, "fps": 25, "end_after_s": 0.5}
            },
        }
    )
    lat: list[float] = []
    ready = asyncio.Event()
    async with Node(config):
        sub = asyncio.create_task(
            _subscribe(host, port, "citywatch/bench/events/#", lat, ready, "created_at")
        )
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.sleep(seconds)
    await asyncio.sleep(0.5)
    sub.cancel()
    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
        await sub
    return percentiles(lat)


async def with_embedded(fn: Any, *a: Any) -> Any:
    port = free_port()
    broker = EmbeddedBroker(EmbeddedBrokerConfig(bind="127.0.0.1", port=port))
    await broker.start()
    try:
        return await fn("127.0.0.1", port, *a)
    finally:
        await broker.stop()


async def with_mosquitto(fn: Any, *a: Any) -> Any:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        conf = Path(d) / "m.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
        )
        proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)  # noqa: ASYNC220
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            return await fn("127.0.0.1", port, *a)
        finally:
            proc.terminate()
            proc.wait()


async def run(video: str, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, wrap in (("embedded", with_embedded), ("mosquitto", with_mosquitto)):
        base = await wrap(baseline, 200, 20.0)
        results[name] = {"baseline": base}
        for snapshots in (False, True):
            with tempfile.TemporaryDirectory() as d:
                if name == "embedded":
                    node = await node_run(
                        "127.0.0.1", free_port(), video, seconds, Path(d), True, snapshots
                    )
                else:
                    node = await wrap(node_run, video, seconds, Path(d), False, snapshots)
            node["ratio_p50"] = node["p50_ms"] / base["p50_ms"]
            node["ratio_p99"] = node["p99_ms"] / base["p99_ms"]
            results[name]["node_snapshots" if snapshots else "node"] = node
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", required=True)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = asyncio.run(run(args.video, args.seconds))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("| broker | path | events | p50 ms | p99 ms | p50 / baseline | p99 / baseline |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        for path, s in r.items():
            ratios = f"{s['ratio_p50']:.2f} | {s['ratio_p99']:.2f}" if "ratio_p50" in s else " | "
            print(
                f"| {name} | {path} | {s['n']} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {ratios} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
