#!/usr/bin/env bash
# Make a throw-away CA, a server certificate and a client certificate for TLS / mutual-TLS tests.
#
#   broker/make-test-certs.sh OUT_DIR [SERVER_NAME] [CLIENT_CN]
#
# Writes ca.crt/ca.key, server.crt/server.key (SAN: SERVER_NAME, localhost, 127.0.0.1) and
# client.crt/client.key (CN = CLIENT_CN, default "citywatch-test") into OUT_DIR. EC P-256,
# valid 2 days: for tests and labs only; production certificates come from your own PKI.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUT=$1
SERVER_NAME=${2:-localhost}
CLIENT_CN=${3:-citywatch-test}
DAYS=2

mkdir -p "$OUT"
cd "$OUT"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$DAYS" -sha256 \
  -keyout ca.key -out ca.crt -subj "/CN=citywatch test CA" 2>/dev/null

cat > server.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$SERVER_NAME,DNS:localhost,IP:127.0.0.1
EOF
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
  -subj "/CN=$SERVER_NAME" 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days "$DAYS" -sha256 -extfile server.ext -out server.crt 2>/dev/null

cat > client.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=clientAuth
EOF
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr \
  -subj "/CN=$CLIENT_CN" 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days "$DAYS" -sha256 -extfile client.ext -out client.crt 2>/dev/null

rm -f server.csr client.csr server.ext client.ext ca.srl
# Mosquitto may run as another user in labs; certificates are public, keys stay private.
chmod 644 ca.crt server.crt client.crt
echo "wrote ca.crt server.crt server.key client.crt client.key to $OUT"
