#!/usr/bin/env bash
# The real fundus photograph the tests use: skimage/data/retina.jpg (1411×1411, a normal eye,
# public domain / CC0) from scikit-image's wheel on PyPI. Downloaded once with pip, cached under
# $DRGRADE_CACHE (wheels/ for the wheel, photos/ for the photo), checked against its SHA-256.
# Never committed. Prints nothing when the photo is already there.
set -euo pipefail
cache=${DRGRADE_CACHE:-$HOME/.cache/drgrade}
venv=${DRGRADE_VENV:-$cache/venv}
version=0.22.0
# One exact wheel, whatever the host's Python: the photo is the same file in every wheel.
wheel=scikit_image-$version-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
photo_sha=38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6
photo=$cache/photos/retina.jpg

check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$photo_sha" ]; }
check "$photo" && exit 0

mkdir -p "$cache/wheels" "$cache/photos"
if [ ! -f "$cache/wheels/$wheel" ]; then
  py=python3
  [ -x "$venv/bin/python" ] && py=$venv/bin/python
  "$py" -m pip --version >/dev/null 2>&1 || { echo "retina.sh: no pip for $py: install pip or run \`make pyenv\` first" >&2; exit 1; }
  echo "retina.sh: downloading scikit-image $version's wheel (14.7 MB) for skimage/data/retina.jpg" >&2
  if ! "$py" -m pip download --quiet --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
      --python-version 3.11 --implementation cp --abi cp311 -d "$cache/wheels" "scikit-image==$version" >&2; then
    echo "retina.sh: could not download scikit-image==$version from the package index (PyPI unreachable?)." >&2
    echo "  The tests need the real fundus photo skimage/data/retina.jpg. Either restore network access and" >&2
    echo "  re-run \`make retina\`, or copy $wheel into $cache/wheels/ by hand." >&2
    exit 1
  fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${venv}/bin/python" -c 1 2>/dev/null && py=$venv/bin/python || py=python3
"$py" - "$cache/wheels/$wheel" "$tmp/retina.jpg" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("skimage/data/retina.jpg"))
PY
if ! check "$tmp/retina.jpg"; then
  echo "retina.sh: skimage/data/retina.jpg in $cache/wheels/$wheel has SHA-256 $(sha256sum "$tmp/retina.jpg" | cut -d' ' -f1), want $photo_sha: delete the wheel and re-run \`make retina\`" >&2
  exit 1
fi
mv "$tmp/retina.jpg" "$photo"
echo "retina.sh: $photo ready" >&2
