#!/usr/bin/env bash
# Install everything the tests need into the active Python (and Debian's chromium + a CJK font for the
# browser tests, and haproxy for the replica test, if missing), then run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

export PATH="$PATH:/usr/sbin"  # Debian installs haproxy there, outside a normal user's PATH
if ! command -v chromium >/dev/null 2>&1 || ! (fc-list 2>/dev/null | grep -qi wqy) || ! command -v haproxy >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium fonts-wqy-microhei haproxy
fi

python -m pip install -q -r requirements-dev.txt
python -m pytest -q "$@"
