#!/usr/bin/env bash
# Installs what the tests need (Debian packages, a project venv with the test extras) and runs
# the whole suite. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# Debian packages: Chromium for the browser tests, PostgreSQL for the throwaway-cluster tests,
# CUPS with the cups-pdf virtual printer for the private print server (poppler-utils reads its
# PDFs back), libcups2-dev and a compiler to build pycups, espeak-ng for the voice prompts.
DEBS=(chromium postgresql cups printer-driver-cups-pdf poppler-utils libcups2-dev gcc python3-dev espeak-ng)
missing=()
for deb in "${DEBS[@]}"; do
    dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

.venv/bin/ruff check .
.venv/bin/mypy
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then
    echo "pytest collected no tests: the suite is missing, which is a failure" >&2
    exit 1
fi
exit "$rc"
