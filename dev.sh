#!/usr/bin/env bash
# One entry point for developers, installers and CI:
#   ./dev.sh demo    run the simulated kitchen end to end
#   ./dev.sh test    ruff, mypy, lint-imports, then the test suite (what CI runs)
#   ./dev.sh bench   list the benchmarks; ./dev.sh bench NAME runs one
#   ./dev.sh package build the Debian package (dist/), then lintian it; --arch arm64 for the Pi
# Each sets up what it needs first: a virtual environment with the project's
# packages, and Mosquitto, FFmpeg and nginx-rtmp from the distribution when missing.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${CANTEEN_VENV:-.venv}
PY=${PYTHON:-python3}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  # Run a package-manager command as root, or print exactly what to run.
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else
    echo "Please run as root, then re-run this command:" >&2
    echo "  sudo $*" >&2
    exit 1
  fi
}

apt_install() {
  say "installing from the distribution: $*"
  if [ "$(id -u)" -ne 0 ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    echo "This needs root. Run, then re-run this command:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $*" >&2
    exit 1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
  if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "Python 3.11 or newer is needed (Raspberry Pi OS bookworm has it as python3)." >&2
    exit 1
  fi
  if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
}

ensure_mosquitto() {
  if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    apt_install mosquitto mosquitto-clients
  fi
}

ensure_media() {
  # FFmpeg is the agent's video engine (relay, recording ring, cuts); nginx with the
  # RTMP module is the reference platform's media server in the simulator and tests;
  # GStreamer's RTSP server plays the kitchen's IP camera.
  # The simulator starts its own nginx on free ports with its own config: the
  # distribution's service (port 80) is never needed.
  local want=()
  command -v ffmpeg >/dev/null 2>&1 || want+=(ffmpeg)
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then want+=(nginx); fi
  ls /usr/lib/nginx/modules/ngx_rtmp_module.so >/dev/null 2>&1 || want+=(libnginx-mod-rtmp)
  # the simulated IP camera's RTSP server (GStreamer's, through the system python3-gi)
  if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null \
     || ! command -v gst-inspect-1.0 >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1; then
    want+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
           gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)
  fi
  # GB/T 28181 (agent/video/gb28181): GStreamer's mpegpsmux packs a recorded range as MPEG-PS
  gst-inspect-1.0 mpegpsmux >/dev/null 2>&1 || want+=(gstreamer1.0-plugins-bad)
  if [ ${#want[@]} -gt 0 ]; then apt_install "${want[@]}"; fi
}

ensure_rabbitmq() {
  # the clustered-broker tests and the fleet bench start their own RabbitMQ nodes (own
  # ports, node names, cookie); the distribution's service is never used
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then apt_install rabbitmq-server; fi
}

ensure_sip() {
  # the GB/T 28181 tests register against Debian's Kamailio too (started on a free port, own config)
  if ! command -v kamailio >/dev/null 2>&1 && [ ! -x /usr/sbin/kamailio ]; then apt_install kamailio; fi
}

ensure_browser() {
  # the console's tests and benchmark drive Debian's chromium (Playwright never downloads one)
  local want=()
  [ -x /usr/bin/chromium ] || want+=(chromium)
  # read the list first: with pipefail, grep -q closing the pipe early fails the pipeline
  local fonts; fonts=$(fc-list 2>/dev/null || true)
  grep -qiE 'wqy|noto sans cjk|source han' <<<"$fonts" || want+=(fonts-wqy-microhei)
  if [ ${#want[@]} -gt 0 ]; then apt_install "${want[@]}"; fi
}

ensure_venv() {
  local stamp="$VENV/.installed" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtual environment in $VENV"
    "$PY" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the project and its packages (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
  fi
}

ensure_deb_build() {
  # dpkg-deb builds; evdev's C extension is built with Debian's own python3 and pip, as on the box
  local want=()
  command -v dpkg-deb >/dev/null 2>&1 || want+=(dpkg)
  /usr/bin/python3 -m pip --version >/dev/null 2>&1 || want+=(python3-pip)
  if [ ${#want[@]} -gt 0 ]; then apt_install "${want[@]}"; fi
}

ensure_packaging() {
  # lintian judges; the cross compiler only for evdev on arm64
  ensure_deb_build
  local want=()
  command -v lintian >/dev/null 2>&1 || want+=(lintian)
  if [[ " $* " == *" arm64 "* ]]; then
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || want+=(gcc-aarch64-linux-gnu)
    # the target's Python headers and sysconfig are downloaded (never installed) by arch
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      say "adding the arm64 architecture to apt (for apt-get download of libpython3.11-*:arm64)"
      as_root dpkg --add-architecture arm64
    fi
  fi
  if [ ${#want[@]} -gt 0 ] || [[ " $* " == *" arm64 "* ]]; then apt_install "${want[@]}"; fi
}

setup() { ensure_python; ensure_mosquitto; ensure_media; ensure_venv; }

cmd=${1:-help}
shift || true
case "$cmd" in
  demo)
    setup
    exec "$VENV/bin/canteen-sim" demo "$@"
    ;;
  test)
    setup
    ensure_browser
    ensure_rabbitmq
    ensure_sip
    ensure_deb_build   # the package tests build the .deb once per session
    # The habits CI keeps: lint, types (strict on agent/ and drivers/), layer contracts;
    # any failure stops here, before the (longer) test suite.
    say "ruff check"; "$VENV/bin/ruff" check .
    say "mypy (strict: agent/, drivers/)"; "$VENV/bin/mypy"
    say "lint-imports (layers, no cycles)"; "$VENV/bin/lint-imports" --no-cache
    # one pytest-xdist worker per core; a test module stays on one worker, so its module-scoped
    # brokers and agents start once (the Debian package is built once: tests/fixtures_package.py)
    exec "$VENV/bin/python" -m pytest -m "not soak" -n "${CANTEEN_TEST_WORKERS:-auto}" --dist loadfile "$@"
    ;;
  soak)
    setup
    ensure_rabbitmq
    exec "$VENV/bin/python" -m pytest -m soak "$@"
    ;;
  bench)
    setup
    if [ $# -eq 0 ]; then
      echo "benchmarks:"; ls bench/*.py | grep -v __init__ | sed 's#bench/\(.*\)\.py#  ./dev.sh bench \1#'
      exit 0
    fi
    name=$1; shift
    if [ "$name" = console ]; then ensure_browser; fi
    if [ "$name" = fleet ]; then ensure_rabbitmq; fi
    exec "$VENV/bin/python" -m "bench.$name" "$@"
    ;;
  package)
    setup
    ensure_packaging "$@"
    arch=$(dpkg --print-architecture)
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do [ "${args[$i]}" = --arch ] && arch=${args[$((i + 1))]}; done
    # the wheels are fetched once per set of runtime dependencies (network); every build after
    # that is offline (the stamp is the one tests/fixtures_package.py keeps)
    want=$("$VENV/bin/python" -c 'import hashlib, json, tomllib
print(hashlib.sha256(json.dumps(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]).encode()).hexdigest())')
    stamp="build/wheels/$arch/.fetched-for"
    fetch=(); [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || fetch=(--fetch)
    deb=$("$VENV/bin/python" systemd/package/build.py "${fetch[@]}" "$@" | tail -n 1)
    if [ ${#fetch[@]} -gt 0 ]; then printf '%s' "$want" > "$stamp"; fi
    say "dpkg-deb --info $deb"; dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
    say "lintian $deb (overrides: systemd/package/lintian-overrides)"
    lintian --fail-on error,warning "$deb"
    say "lintian clean: $deb"
    ;;
  setup)
    setup
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    ;;
esac
