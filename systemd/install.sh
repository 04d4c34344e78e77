#!/usr/bin/env bash
# Install, upgrade or remove canteen-agent as a systemd service (Raspberry Pi OS
# bookworm 64-bit, Debian 12, or any systemd distribution with Python >= 3.11).
#
#   sudo systemd/install.sh install            # user, venv, directories, unit; start it
#   sudo systemd/install.sh upgrade            # new code into the venv; config and store kept
#   sudo systemd/install.sh uninstall          # unit and venv gone; /etc and /var/lib kept
#   sudo systemd/install.sh uninstall --purge  # ... and the config, the store and the user
#
# Options (before or after the action):
#   --source DIR   the checkout to install from (default: this script's repository)
#   --root DIR     lay everything out under DIR instead of /: no user is created, nothing
#                  is chowned, no apt-get and no systemctl (for tests and image builds)
#   --no-pip       create the virtual environment without installing the package
#   --no-apt       do not apt-get the build prerequisites
#   --no-start     install/upgrade without (re)starting the service
set -euo pipefail

SERVICE=canteen-agent
USER_NAME=canteen
GROUPS_EXTRA=(dialout video input)   # serial ports, cameras, HID badge readers

ROOT=""
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PIP=1
APT=1
START=1
PURGE=0
ACTION=""

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    install|upgrade|uninstall) ACTION="$1" ;;
    --purge) PURGE=1 ;;
    --root) ROOT="${2:?--root needs a directory}"; shift ;;
    --source) SOURCE="${2:?--source needs a directory}"; shift ;;
    --no-pip) PIP=0 ;;
    --no-apt) APT=0 ;;
    --no-start) START=0 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ -n "$ACTION" ]] || die "say install, upgrade or uninstall (see --help)"
if [[ -n "$ROOT" ]]; then
  ROOT="$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)"
  APT=0
else
  [[ $EUID -eq 0 ]] || die "run as root (sudo), or use --root DIR for a layout under DIR"
fi

OPT="$ROOT/opt/$SERVICE"
VENV="$OPT/venv"
ETC="$ROOT/etc/$SERVICE"
STATE="$ROOT/var/lib/$SERVICE"
UNIT_DIR="$ROOT/etc/systemd/system"
UNIT="$UNIT_DIR/$SERVICE.service"
CONFIG="$ETC/agent.yaml"
PYTHON="${PYTHON:-python3}"

real_system() { [[ -z "$ROOT" ]]; }
systemctl_() { if real_system && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then systemctl "$@"; else say "(skipped) systemctl $*"; fi; }

ensure_prerequisites() {
  [[ $APT -eq 1 ]] || return 0
  command -v apt-get >/dev/null || { say "no apt-get: make sure python3-venv and a C compiler are present"; return 0; }
  # venv for the environment; gcc and headers for evdev, which ships no wheels;
  # ffmpeg: the video relay, recording ring and cuts (agent/video)
  local need=() pkg
  for pkg in python3-venv python3-dev gcc libc6-dev ffmpeg; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [[ ${#need[@]} -gt 0 ]]; then
    say "installing ${need[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
  fi
}

check_python() {
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "$PYTHON is older than 3.11 (Raspberry Pi OS bookworm ships 3.11)"
}

ensure_user() {
  if ! real_system; then say "(skipped under --root) user $USER_NAME in ${GROUPS_EXTRA[*]}"; return 0; fi
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "/var/lib/$SERVICE" --no-create-home \
      --shell /usr/sbin/nologin --comment "canteen edge agent" "$USER_NAME"
    say "created system user $USER_NAME"
  fi
  local group
  for group in "${GROUPS_EXTRA[@]}"; do
    getent group "$group" >/dev/null || groupadd --system "$group"
    usermod -a -G "$group" "$USER_NAME"
  done
}

own() {  # own OWNER:GROUP MODE PATH (ownership only on the real system)
  real_system && chown "$1" "$3"
  chmod "$2" "$3"
}

make_dirs() {
  mkdir -p "$OPT" "$ETC" "$STATE" "$UNIT_DIR"
  own root:root 0755 "$OPT"
  own "root:$USER_NAME" 0770 "$ETC"       # the agent rewrites agent.yaml on set_config
  own "$USER_NAME:$USER_NAME" 0750 "$STATE"
}

install_config() {
  if [[ -e "$CONFIG" ]]; then
    say "keeping existing $CONFIG"
    return 0
  fi
  local template="$SOURCE/config/example.yaml"
  [[ -f "$template" ]] || template="$SOURCE/config/minimal.yaml"
  [[ -f "$template" ]] || die "no config template in $SOURCE/config"
  cp "$template" "$CONFIG"
  own "root:$USER_NAME" 0660 "$CONFIG"
  say "wrote $CONFIG from $(basename "$template"): edit identity, broker and devices, then"
  say "  sudo -u $USER_NAME $VENV/bin/canteen-agent doctor --config $CONFIG"
}

install_venv() {
  [[ -x "$VENV/bin/python" ]] || {
    if [[ $PIP -eq 1 ]]; then "$PYTHON" -m venv "$VENV"; else "$PYTHON" -m venv --without-pip "$VENV"; fi
    say "created virtual environment $VENV"
  }
  if [[ $PIP -eq 0 ]]; then say "(skipped) pip install $SOURCE"; return 0; fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # A non-editable install: the service never runs code from the checkout.
  "$VENV/bin/python" -m pip install --quiet --upgrade --force-reinstall --no-deps "$SOURCE"
  "$VENV/bin/python" -m pip install --quiet "$SOURCE"   # dependencies, resolved once
  say "installed $("$VENV/bin/canteen-agent" version)"
}

install_unit() {
  # the launcher the unit starts, as the Debian package installs it: it runs the release in
  # force (a remote update's, else this venv's)
  install -D -m 0755 "$SOURCE/systemd/canteen-agent-launch" "$OPT/bin/$SERVICE"
  install -m 0644 "$SOURCE/systemd/$SERVICE.service" "$UNIT"
  [[ -f "$SOURCE/README.md" ]] && install -m 0644 "$SOURCE/README.md" "$OPT/README.md"
  say "installed $UNIT"
  systemctl_ daemon-reload
}

config_is_valid() {
  [[ $PIP -eq 1 ]] || return 0
  "$VENV/bin/canteen-agent" check-config "$CONFIG"
}

do_install() {
  ensure_prerequisites
  check_python
  ensure_user
  make_dirs
  install_venv
  install_config
  install_unit
  systemctl_ enable "$SERVICE"
  if [[ $START -eq 1 ]]; then
    if config_is_valid; then systemctl_ restart "$SERVICE"
    else say "not started: fix $CONFIG, then systemctl start $SERVICE"; fi
  fi
  say "done: journalctl -u $SERVICE -f to follow it"
}

do_upgrade() {
  [[ -d "$VENV" ]] || die "not installed (no $VENV): use install"
  check_python
  ensure_user
  make_dirs          # modes only; nothing inside $ETC or $STATE is touched
  install_venv
  install_unit
  if [[ $START -eq 1 ]]; then
    config_is_valid || die "the new version rejects $CONFIG: service left as it was; fix it and restart"
    systemctl_ try-restart "$SERVICE"
  fi
  say "upgraded; config $CONFIG and store $STATE kept"
}

do_uninstall() {
  systemctl_ disable --now "$SERVICE"
  rm -f "$UNIT"
  systemctl_ daemon-reload
  rm -rf "$OPT" "$STATE/releases"   # releases from remote updates are code, not data
  if [[ $PURGE -eq 1 ]]; then
    rm -rf "$ETC" "$STATE"
    if real_system && id "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME" || true; fi
    say "removed the service, its config, its store and the user $USER_NAME"
  else
    say "removed the service; kept $ETC and $STATE (uninstall --purge removes them)"
  fi
}

case "$ACTION" in
  install) do_install ;;
  upgrade) do_upgrade ;;
  uninstall) do_uninstall ;;
esac
