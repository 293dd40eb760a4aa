"""A Mosquitto started with the real ``broker/acl`` and a password file made by
``broker/create-node-credentials.sh``; operators are added with ``mosquitto_passwd``."""

from __future__ import annotations

import getpass
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, MosquittoBroker, MosquittoFactory

BROKER_DIR = REPO / "broker"
NODES = ("n1", "n2")
OPERATORS = ("homeassistant", "citywatch-operator")
# A valid user that is neither an operator nor one of the nodes under test.
STRANGER = "visitor"
# Mosquitto started as root drops to the `mosquitto` user, which cannot read pytest's private
# tmp dirs; running as the current user keeps the test files private (ignored when not root).
RUN_AS = f"user {getpass.getuser()}\n"


def create_node(passwd: Path, node_id: str) -> str:
    """Run the real credential script; return the password it printed."""
    out = subprocess.run(
        [str(BROKER_DIR / "create-node-credentials.sh"), "-f", str(passwd), node_id],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    m = re.search(r"^CITYWATCH__MQTT__PASSWORD=(\S+)$", out, re.MULTILINE)
    assert m, out
    return m.group(1)


def add_user(passwd: Path, user: str, password: str) -> None:
    subprocess.run(
        ["mosquitto_passwd", str(passwd), user],
        input=f"{password}\n{password}\n",
        check=True,
        capture_output=True,
        text=True,
    )


@dataclass
class SecuredBroker:
    broker: MosquittoBroker
    passwords: dict[str, str]

    @property
    def port(self) -> int:
        return self.broker.port


def make_password_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    passwd = tmp_path / "passwd"
    passwords = {node: create_node(passwd, node) for node in NODES}
    for user in (*OPERATORS, STRANGER):
        passwords[user] = f"pw-{user}"
        add_user(passwd, user, passwords[user])
    return passwd, passwords


@pytest.fixture
def secured_broker(mosquitto_factory: MosquittoFactory, tmp_path: Path) -> SecuredBroker:
    passwd, passwords = make_password_file(tmp_path)
    broker = mosquitto_factory(
        extra=RUN_AS + f"password_file {passwd}\nacl_file {BROKER_DIR / 'acl'}\n",
        anonymous=False,
    )
    return SecuredBroker(broker, passwords)
