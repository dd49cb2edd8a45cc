#!/usr/bin/env bash
# Create the virtualenv .venv at the project root and install gridgis into it.
# Idempotent: reinstalls only when pyproject.toml changed. `--test` adds the test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
PY="${PYTHON:-python3}"

if ! command -v "$PY" >/dev/null 2>&1; then
  echo "gridgis needs Python 3.11 or newer. On Debian/Ubuntu: sudo apt-get install python3 python3-venv" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "gridgis needs Python 3.11 or newer; $PY is $("$PY" -V 2>&1). Set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# Stock Debian/Ubuntu Python lacks ensurepip until python3-venv is installed.
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  pkg="python3-venv"
  ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $pkg (Python lacks ensurepip) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" || \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$ver-venv"
  else
    echo "Python lacks ensurepip. Run: sudo apt-get update && sudo apt-get install -y $pkg (or python$ver-venv), then run this again." >&2
    exit 1
  fi
fi

# The CJK font of the printed boards and cards (Noto Sans CJK SC, Debian's fonts-noto-cjk):
# installed when missing and we can; otherwise say how (boards refuse to render without it).
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 \
   && ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing fonts-noto-cjk (the CJK font of the printed boards) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
  else
    echo "note: printed boards need a CJK font: sudo apt-get install -y fonts-noto-cjk (or set GRIDGIS_CJK_FONT)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi

stamp=".venv/.gridgis-installed$extras"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"
  echo "$want" > "$stamp"
fi
