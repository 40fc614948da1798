#!/usr/bin/env bash
# Headless Chromium for the tests that open pages in a real browser (trainer/report: the
# evaluation report). Debian's package, installed when missing and we may (root with apt-get);
# otherwise a clear message. DRGRADE_CHROMIUM names another browser binary.
set -euo pipefail
bin=${DRGRADE_CHROMIUM:-/usr/bin/chromium}
[ -x "$bin" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: installing Debian's chromium for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >&2 || { apt-get update -q >&2 && apt-get install -y -q chromium >&2; }
fi
[ -x "$bin" ] || { echo "chromium.sh: no Chromium at $bin: install it (Debian/Ubuntu: apt-get install chromium) or set DRGRADE_CHROMIUM" >&2; exit 1; }
