#!/usr/bin/env bash
# Create (or rotate) the MQTT credentials of one citywatch node and print its config snippet.
#
#   broker/create-node-credentials.sh [-f PASSWORD_FILE] [-H BROKER_HOST] [-p PORT]
#                                     [--ca CA_PATH_ON_NODE] [--rotate] NODE_ID
#
# The node's MQTT username is its node_id: the ACL (`broker/acl`) confines user X to
# `citywatch/X/#` with Mosquitto's %u substitution, so the two must be equal.
# The password is random (32 characters), fed to mosquitto_passwd on stdin (never on the
# command line, where `ps` would show it) and printed once, as the environment variable the node
# reads (CITYWATCH__MQTT__PASSWORD). After adding a user, reload Mosquitto: `kill -HUP <pid>`
# or `systemctl reload mosquitto`.
set -euo pipefail

PASSWORD_FILE=/etc/mosquitto/citywatch/passwd
HOST=mqtt.example.org
PORT=8883
CA_ON_NODE=/config/ca.crt
ROTATE=0
# Operator accounts in broker/acl; a node with one of these ids would share their rights.
RESERVED=(homeassistant citywatch-operator)

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    -f) PASSWORD_FILE=$2; shift 2 ;;
    -H) HOST=$2; shift 2 ;;
    -p) PORT=$2; shift 2 ;;
    --ca) CA_ON_NODE=$2; shift 2 ;;
    --rotate) ROTATE=1; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
NODE_ID=$1

if ! [[ $NODE_ID =~ ^[a-zA-Z0-9_-]+$ ]]; then
  echo "error: node id '$NODE_ID' must match [a-zA-Z0-9_-]+ (it is a topic level)" >&2
  exit 1
fi
for r in "${RESERVED[@]}"; do
  if [ "$NODE_ID" = "$r" ]; then
    echo "error: '$NODE_ID' is an operator account in broker/acl; pick another node id" >&2
    exit 1
  fi
done
command -v mosquitto_passwd >/dev/null || { echo "error: mosquitto_passwd not found" >&2; exit 1; }

if [ -f "$PASSWORD_FILE" ] && grep -q "^${NODE_ID}:" "$PASSWORD_FILE" && [ $ROTATE -eq 0 ]; then
  echo "error: user '$NODE_ID' already exists in $PASSWORD_FILE (use --rotate for a new password)" >&2
  exit 1
fi

# 24 random bytes -> 32 base64 characters; drop the ones that need quoting in YAML or shells.
PASSWORD=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-32)

umask 077  # the password file holds hashes only, but nobody else needs to read it
if [ -f "$PASSWORD_FILE" ]; then
  printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | mosquitto_passwd "$PASSWORD_FILE" "$NODE_ID" >/dev/null
else
  mkdir -p "$(dirname "$PASSWORD_FILE")"
  printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | mosquitto_passwd -c "$PASSWORD_FILE" "$NODE_ID" >/dev/null
fi

cat <<EOF
# --- citywatch node '$NODE_ID': add to its config YAML ---
node_id: $NODE_ID
mqtt:
  host: $HOST
  port: $PORT
  username: $NODE_ID
  client_id: citywatch-$NODE_ID
  tls:
    ca_certs: $CA_ON_NODE
# --- and give the node its password through the environment (shown once) ---
CITYWATCH__MQTT__PASSWORD=$PASSWORD
# Then reload Mosquitto so it reads $PASSWORD_FILE again: systemctl reload mosquitto
EOF
