#!/usr/bin/env bash
# The page of `visionpath serve` in a real browser: installs Debian's chromium and its chromedriver (apt) and
# selenium (into .venv, the `page-test` extra), then runs tests/test_serve_page.py, which picks two photos in
# headless Chromium and reads the classes the page shows. No browser build is downloaded.
#   scripts/test_page.sh [SCREENSHOT.png]     # also save what the browser showed
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  as_root=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $as_root apt-get update && $as_root apt-get install -y chromium chromium-driver
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test,page-test]'
[ -z "${1:-}" ] || export VISIONPATH_PAGE_SCREENSHOT="$(realpath -m "$1")"
.venv/bin/python -m pytest -o addopts= -rs -q tests/test_serve_page.py
