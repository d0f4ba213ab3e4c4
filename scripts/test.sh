#!/usr/bin/env bash
# Set up and run every test (CPU only). Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)) \
    || echo "warning: Debian chromium could not be installed; the browser tests will be skipped" >&2
fi
set +e
python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest: no tests were collected (exit 5)" >&2
  rc=0
fi
exit "$rc"
