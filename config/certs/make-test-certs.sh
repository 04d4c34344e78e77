#!/usr/bin/env bash
# Make a test/commissioning PKI for the canteen MQTT broker with openssl only:
#   a CA, a broker server certificate (SAN: localhost, 127.0.0.1 and any names given
#   with -n), one client certificate per agent (CN = agent_id) and one for the platform
#   (CN = platform). With use_identity_as_username the CN is the MQTT user the ACL sees.
#
# usage: make-test-certs.sh [-d DAYS] [-n SERVER_NAME]... [-c CONSOLE_NAME]... OUT_DIR [AGENT_ID...]
#   make-test-certs.sh -n broker.example.org /tmp/pki sc-cd-0042-k1 sc-cd-0043-k1
#   make-test-certs.sh -c kitchen-7.local -c 192.168.10.5 /etc/canteen-agent/site-pki
#
# -c: the kitchen console's HTTPS certificate for the box (console.crt, console.key),
# issued by the same site CA for each name or address phones reach the box by; install
# the CA (ca.crt, not the key) on the staff's phones once (docs: README "Console over HTTPS").
#
# Writes OUT_DIR/ca.crt ca.key server.crt server.key platform.crt platform.key
# <agent_id>.crt <agent_id>.key. Keys are unencrypted (mode 600): for tests and for
# bootstrapping; a production CA key belongs offline. An existing CA in OUT_DIR is
# reused, so agents can be added later with the same CA.
set -euo pipefail

days=825
names=(localhost 127.0.0.1)
console_names=()
while getopts "d:n:c:h" opt; do
  case $opt in
    d) days=$OPTARG ;;
    n) names+=("$OPTARG") ;;
    c) console_names+=("$OPTARG") ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
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
if [ ${#console_names[@]} -gt 0 ]; then
  csan=""
  for n in "${console_names[@]}"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then csan+="IP:$n,"; else csan+="DNS:$n,"; fi
  done
  # browsers accept at most 825 days for a certificate they are told to trust
  cat > "$work/console.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=${csan%,}
EXT
  issue console "${console_names[0]}" "$work/console.ext"
fi
issue platform platform "$work/client.ext"
for agent in "${agents[@]}"; do
  case $agent in
    platform|*/*|*+*|*#*|"") echo "bad agent id: '$agent'" >&2; exit 2 ;;
  esac
  issue "$agent" "$agent" "$work/client.ext"
done
chmod 644 "$out"/*.crt
