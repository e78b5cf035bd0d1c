#!/usr/bin/env bash
# Prepare a machine for pointseg: the Debian packages napari needs under a virtual screen (xvfb),
# a virtual environment in .venv and the Python packages (torch + torchvision first, then pointseg
# with its dev extra). Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${POINTSEG_VENV:-.venv}"
APT_PACKAGES=(xvfb xauth libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0
  libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0
  libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-xfixes0 libxcb-cursor0)

install_debian_packages() {
  command -v dpkg >/dev/null 2>&1 || { echo "bootstrap: not a Debian system, skipping apt packages" >&2; return 0; }
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python_packages() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.pointseg-installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
    return 0
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torchvision only works with the torch build it was released with; pin the pair per architecture.
  case "$(uname -m)" in
    aarch64|arm64) pair=(torch==2.9.1 torchvision==0.24.1) ;;
    *) pair=(torch==2.14.1 torchvision==0.29.1) ;;
  esac
  "$VENV/bin/python" -m pip install -q "${pair[@]}" || "$VENV/bin/python" -m pip install -q torch torchvision
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  touch "$stamp"
}

install_debian_packages
install_python_packages
