"""The production `broker/mosquitto.conf` itself, started with test paths and ports: TLS, mutual
TLS, the loopback plain listener and persistence of retained messages."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from tests.broker.conftest import BROKER_DIR, RUN_AS, make_password_file
from tests.broker.mqtt_helpers import client, tls_context
from tests.conftest import MosquittoBroker, free_port, wait_port

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


@dataclass
class ProdBroker:
    broker: MosquittoBroker
    tls_port: int
    plain_port: int
    certs: Path
    passwords: dict[str, str]

    def ctx(self, *, client_cert: bool = False) -> ssl.SSLContext:
        c = self.certs
        if client_cert:
            return tls_context(str(c / "ca.crt"), str(c / "client.crt"), str(c / "client.key"))
        return tls_context(str(c / "ca.crt"))


def production_conf(
    tmp: Path, certs: Path, passwd: Path, tls_port: int, plain_port: int, mutual: bool
) -> Path:
    """The checked-in config with only paths, ports and log destination replaced."""
    text = (BROKER_DIR / "mosquitto.conf").read_text()
    subs = {
        "password_file /etc/mosquitto/citywatch/passwd": f"password_file {passwd}",
        "acl_file /etc/mosquitto/citywatch/acl": f"acl_file {BROKER_DIR / 'acl'}",
        "/etc/mosquitto/citywatch/certs/": f"{certs}/",
        "listener 8883\n": f"listener {tls_port} 127.0.0.1\n",
        "listener 1883 127.0.0.1": f"listener {plain_port} 127.0.0.1",
        "persistence_location /var/lib/mosquitto/": f"persistence_location {tmp}/",
        "log_dest syslog": "log_dest stderr",
    }
    if mutual:
        subs["require_certificate false"] = "require_certificate true"
    for old, new in subs.items():
        assert old in text, f"broker/mosquitto.conf no longer contains {old!r}"
        text = text.replace(old, new)
    conf = tmp / "mosquitto.conf"
    conf.write_text(RUN_AS + text)
    return conf


@dataclass
class Secrets:
    certs: Path
    passwd: Path
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    """Certificates (the real script) and users, made once for the module."""
    tmp = tmp_path_factory.mktemp("secrets")
    certs = tmp / "certs"
    subprocess.run(
        [str(BROKER_DIR / "make-test-certs.sh"), str(certs), "localhost", "n1"],
        check=True,
        capture_output=True,
    )
    passwd, passwords = make_password_file(tmp)
    return Secrets(certs, passwd, passwords)


def start_prod(tmp_path: Path, s: Secrets, mutual: bool) -> ProdBroker:
    certs, passwd, passwords = s.certs, s.passwd, s.passwords
    tls_port, plain_port = free_port(), free_port()
    conf = production_conf(tmp_path, certs, passwd, tls_port, plain_port, mutual)
    broker = MosquittoBroker(conf_path=conf, port=plain_port, log_path=tmp_path / "mosquitto.log")
    broker.start()
    wait_port("127.0.0.1", tls_port)
    return ProdBroker(broker, tls_port, plain_port, certs, passwords)


@pytest.fixture
def prod(tmp_path: Path, secrets: Secrets) -> Iterator[ProdBroker]:
    b = start_prod(tmp_path, secrets, mutual=False)
    yield b
    b.broker.stop()


@pytest.fixture
def prod_mtls(tmp_path: Path, secrets: Secrets) -> Iterator[ProdBroker]:
    b = start_prod(tmp_path, secrets, mutual=True)
    yield b
    b.broker.stop()


async def test_tls_listener_and_loopback_plain_listener(prod: ProdBroker) -> None:
    pw = prod.passwords
    async with client(prod.plain_port, "citywatch-operator", pw["citywatch-operator"]) as (
        op,
        seen,
    ):
        await op.subscribe("citywatch/#", qos=1)
        async with client(prod.tls_port, "n1", pw["n1"], tls=prod.ctx()) as (node, _):
            await node.publish("citywatch/n1/availability", b"online", qos=1, retain=True)
        await seen.wait_for(lambda: bool(seen.on("citywatch/n1/availability")))


async def test_tls_refuses_a_client_that_does_not_trust_the_ca(prod: ProdBroker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with client(
            prod.tls_port, "n1", prod.passwords["n1"], tls=ssl.create_default_context()
        ):
            pass


async def test_retained_state_survives_a_broker_restart(prod: ProdBroker) -> None:
    pw = prod.passwords
    async with client(prod.tls_port, "n1", pw["n1"], tls=prod.ctx()) as (node, _):
        await node.publish("citywatch/n1/availability", b"online", qos=1, retain=True)
    prod.broker.stop()
    prod.broker.start()
    wait_port("127.0.0.1", prod.tls_port)
    async with client(prod.plain_port, "homeassistant", pw["homeassistant"]) as (ha, seen):
        await ha.subscribe("citywatch/n1/availability", qos=1)
        await seen.wait_for(lambda: bool(seen.on("citywatch/n1/availability")))
    assert seen.messages[0].retain and seen.messages[0].payload == b"online"


async def test_mutual_tls_needs_a_client_certificate(prod_mtls: ProdBroker) -> None:
    pw = prod_mtls.passwords
    ctx = prod_mtls.ctx(client_cert=True)
    async with client(prod_mtls.tls_port, "n1", pw["n1"], tls=ctx) as (node, _):
        await node.publish("citywatch/n1/availability", b"online", qos=1)
    with pytest.raises(aiomqtt.MqttError):
        async with client(prod_mtls.tls_port, "n1", pw["n1"], tls=prod_mtls.ctx(), timeout=2):
            pass
    # Password auth still applies on top of the certificate.
    with pytest.raises(aiomqtt.MqttError):
        async with client(prod_mtls.tls_port, "n1", "wrong", tls=ctx, timeout=2):
            pass
