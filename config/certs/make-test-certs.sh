#!/usr/bin/env bash
# Make a test/commissioning PKI for the canteen MQTT broker with openssl only:
#   a CA, a broker server certificate (SAN: localhost, 127.0.0.1 and any names given
#   with -n), one client certificate per agent (CN = agent_id) and one for the platform
#   (CN = platform). With use_identity_as_username the CN is the MQTT user the ACL sees.
#
# usage: make-test-certs.sh [-d DAYS] [-n SERVER_NAME]... OUT_DIR [AGENT_ID...]
#   make-test-certs.sh -n broker.example.org /tmp/pki sc-cd-0042-k1 sc-cd-0043-k1
#
# Writes OUT_DIR/ca.crt ca.key server.crt server.key platform.crt platform.key
# <agent_id>.crt <agent_id>.key. Keys are unencrypted (mode 600): for tests and for
# bootstrapping; a production CA key belongs offline. An existing CA in OUT_DIR is
# reused, so agents can be added later with the same CA.
set -euo pipefail

days=825
names=(localhost 127.0.0.1)
while getopts "d:n:h" opt; do
  case $opt in
    d) days=$OPTARG ;;
    n) names+=("$OPTARG") ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
out=$1; shift
agents=("$@")
command -v openssl >/dev/null || { echo "openssl not found (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$out"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [ ! -f "$out/ca.crt" ] || [ ! -f "$out/ca.key" ]; then
  key "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" \
    -subj "/O=canteen-agent test/CN=canteen-agent test CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$out/ca.crt"
  echo "made CA $out/ca.crt"
fi

# issue STEM CN EXT_FILE
issue() {
  local stem=$1 cn=$2 ext=$3
  key "$out/$stem.key"
  openssl req -new -key "$out/$stem.key" -subj "/O=canteen-agent test/CN=$cn" -out "$work/$stem.csr"
  openssl x509 -req -in "$work/$stem.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -days "$days" -sha256 -extfile "$ext" \
    -out "$out/$stem.crt" 2>/dev/null
  echo "made $out/$stem.crt (CN=$cn)"
}

san=""
for n in "${names[@]}"; do
  if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
cat > "$work/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=${san%,}
EXT
cat > "$work/client.ext" <<EXT
basicConstraints=critical,CA:FALSE
extendedKeyUsage=clientAuth
EXT

issue server "${names[0]}" "$work/server.ext"
issue platform platform "$work/client.ext"
for agent in "${agents[@]}"; do
  case $agent in
    platform|*/*|*+*|*#*|"") echo "bad agent id: '$agent'" >&2; exit 2 ;;
  esac
  issue "$agent" "$agent" "$work/client.ext"
done
chmod 644 "$out"/*.crt
