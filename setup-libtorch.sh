#!/usr/bin/env bash
# setup-libtorch.sh — install libtorch 2.1 and wire gotch v0.9.1 to it, without sudo and
# without touching the Go module cache.
#
# Sources of libtorch, in order:
#   1. LIBTORCH=/path            an existing libtorch (official zip layout, or a Python `torch`
#                                package directory: both have lib/ and include/; a torch package
#                                in a site-packages with nvidia/*/lib next to it links their CUDA)
#   2. DRGRADE_CUDA=1 (make CUDA=1), or DRGRADE_TORCH_VERSION other than 2.1.x (make TORCH=2.11.0):
#                                the PyPI wheel torch==$DRGRADE_TORCH_VERSION with the nvidia CUDA
#                                runtime wheels its METADATA pins, pip-installed side by side into
#                                $DRGRADE_CACHE/torch-2.1.0-cu121 (2.1.x) or $DRGRADE_CACHE/torch-<ver>
#                                (a site-packages layout: torch/lib's own RPATH finds nvidia/*/lib).
#                                The CUDA libtorch is linked (libtorch_cuda, libc10_cuda).
#   3. the PyPI wheel torch==2.1.0 (pip download --no-deps; only torch/lib + torch/include kept:
#                                the CPU build, the default)
#   4. the official libtorch 2.1.0 zip (LIBTORCH_VARIANT=cpu|cu118|cu121; cxx11 ABI); used when
#      LIBTORCH_VARIANT is set, or when the wheel cannot be had.
#
# What it writes:
#   $DRGRADE_CACHE (default ~/.cache/drgrade)/libtorch-<ver>-<source>/   libtorch itself
#   third_party/libtorch            symlink to the libtorch in use
#   third_party/torch_abi.h         the detected _GLIBCXX_USE_CXX11_ABI for our C++ (internal/torchext)
#   third_party/gotch/              a copy of gotch v0.9.1 with third_party/patches/*.patch applied
#                                   (and patches/newer-torch/*.patch for a libtorch other than 2.1)
#                                   and a generated libtch/lib.go that links this libtorch
#                                   (CPU: -ltorch_cpu -lc10; CUDA only when usable)
#   third_party/cuda/include/       CUDA builds only: links to the nvidia wheels' headers (nccl.h,
#                                   cuda_runtime.h, ...) for internal/torchext/dist's NCCL code
#   third_party/libtorch.env        what was detected (read by the Makefile and `drgrade version`)
# go.mod's `replace github.com/sugarme/gotch => ./third_party/gotch` points the build at the copy.
# Idempotent: a second run with the same inputs only checks a stamp.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tp="$here/third_party"
cache="${DRGRADE_CACHE:-$HOME/.cache/drgrade}"
torch_version="${DRGRADE_TORCH_VERSION:-2.1.0}"
gotch_version="v0.9.1"
variant="${LIBTORCH_VARIANT:-}"
python="${PYTHON:-python3}"
want_cuda="${DRGRADE_CUDA:-0}"
case "$want_cuda" in 1|true|yes) want_cuda=1 ;; *) want_cuda=0 ;; esac
# torch's PyPI wheels after 2.1 are CUDA builds whose libtorch_cpu.so itself needs the CUDA
# runtime: any other version is installed with its CUDA wheels.
case "$torch_version" in 2.1.*) ;; *) want_cuda=1 ;; esac
patches="$tp/patches"

log() { printf 'setup-libtorch: %s\n' "$*" >&2; }
die() { printf 'setup-libtorch: error: %s\n' "$*" >&2; exit 1; }

# --- 0. libjpeg-turbo's TurboJPEG and libjpeg headers (internal/imagec decodes JPEGs with them)
if [ ! -f /usr/include/turbojpeg.h ] || [ ! -f /usr/include/jpeglib.h ]; then
  # No sudo: root (as on this project's machines and CI) installs them; anyone else is told how.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing libturbojpeg0-dev and libjpeg62-turbo-dev (TurboJPEG and libjpeg APIs for JPEG decoding)"
    apt-get install -y -q libturbojpeg0-dev libjpeg62-turbo-dev >&2 \
      || { apt-get update -q >&2 && apt-get install -y -q libturbojpeg0-dev libjpeg62-turbo-dev >&2; } \
      || log "warning: apt-get could not install libturbojpeg0-dev and libjpeg62-turbo-dev"
  fi
  [ -f /usr/include/turbojpeg.h ] || log "warning: /usr/include/turbojpeg.h is missing, and internal/imagec (so drgrade) will not build without it: install libjpeg-turbo's TurboJPEG development files as root (Debian/Ubuntu: apt-get install libturbojpeg0-dev; Fedora: dnf install turbojpeg-devel)"
  [ -f /usr/include/jpeglib.h ] || log "warning: /usr/include/jpeglib.h is missing, and internal/imagec (so drgrade) will not build without it: install libjpeg-turbo's libjpeg development files as root (Debian/Ubuntu: apt-get install libjpeg62-turbo-dev; Fedora: dnf install libjpeg-turbo-devel)"
fi

# --- fast path: nothing changed since the last run ------------------------------------------
patch_sums=$(cat "$patches"/*.patch "$patches"/newer-torch/*.patch 2>/dev/null | cksum | cut -d' ' -f1)
inputs="torch=$torch_version gotch=$gotch_version LIBTORCH=${LIBTORCH:-} variant=$variant cache=$cache script=$(cksum < "$0" | cut -d' ' -f1)"
[ "$want_cuda" = 1 ] && inputs="$inputs cuda=1"
inputs="$inputs patches=$patch_sums"
stamp="$tp/.setup-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ] && [ -e "$tp/libtorch/lib" ] \
   && [ -f "$tp/gotch/libtch/lib.go" ] && [ -f "$tp/torch_abi.h" ]; then
  exit 0
fi

mkdir -p "$cache" "$tp"

# --- 1. find or install libtorch --------------------------------------------------------------
is_libtorch() { [ -f "$1/lib/libtorch_cpu.so" ] && [ -f "$1/lib/libc10.so" ] && [ -d "$1/include/torch" ]; }

from_wheel() {
  local dest="$cache/libtorch-$torch_version-pypi"
  if is_libtorch "$dest"; then echo "$dest"; return 0; fi
  local wheels="$cache/wheels" whl=""
  mkdir -p "$wheels"
  for v in "$torch_version" 2.1.1 2.1.2; do
    whl=$(ls "$wheels"/torch-"$v"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$whl" ]; then
      log "downloading the torch==$v wheel from PyPI (~670 MB, cached in $wheels)"
      if "$python" -m pip download --no-deps --quiet -d "$wheels" "torch==$v" >&2; then
        whl=$(ls "$wheels"/torch-"$v"-*.whl 2>/dev/null | head -n1 || true)
      fi
    fi
    [ -n "$whl" ] && break
  done
  [ -n "$whl" ] || return 1
  log "extracting torch/lib and torch/include from $(basename "$whl")"
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # CPU libraries only: the wheel's CUDA libraries need nvidia-* runtime packages that a
  # plain libtorch user does not have, and they are 800 MB we would never link.
  (cd "$tmp" && "$python" - "$whl" <<'PY'
import sys, zipfile, os
skip = ("libtorch_cuda", "libc10_cuda", "libnvfuser", "libcaffe2_nvrtc", "libtorch_python")
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if not (n.startswith("torch/lib/") or n.startswith("torch/include/") or n == "torch/version.py"):
            continue
        if n.startswith("torch/lib/") and os.path.basename(n).startswith(skip):
            continue
        z.extract(n, ".")
PY
  )
  # The PyPI build's libtorch_cpu.so itself needs libcudart.so.12 and libcupti.so.12 (its
  # profiler links them; nothing calls them on CPU). Take them from the two small nvidia
  # wheels at the versions torch's METADATA pins, so the link and the loader are satisfied.
  local meta pkg ver lib
  meta=$(unzip -p "$whl" 'torch-*.dist-info/METADATA')
  for pair in nvidia-cuda-runtime-cu12:libcudart.so nvidia-cuda-cupti-cu12:libcupti.so; do
    pkg=${pair%%:*}; lib=${pair#*:}
    ver=$(printf '%s\n' "$meta" | sed -n "s/^Requires-Dist: $pkg (==\([^)]*\)).*/\1/p" | head -n1)
    [ -n "$ver" ] || continue
    local nw
    nw=$(ls "$wheels"/"${pkg//-/_}"-"$ver"-*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$nw" ]; then
      log "downloading $pkg==$ver (needed by libtorch_cpu.so)"
      "$python" -m pip download --no-deps --quiet -d "$wheels" "$pkg==$ver" >&2 || return 1
      nw=$(ls "$wheels"/"${pkg//-/_}"-"$ver"-*.whl | head -n1)
    fi
    "$python" - "$nw" "$lib" "$tmp/torch/lib" <<'PY'
import sys, zipfile, os, shutil
whl, lib, dest = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if os.path.basename(n).startswith(lib):
            with z.open(n) as src, open(os.path.join(dest, os.path.basename(n)), "wb") as out:
                shutil.copyfileobj(src, out)
PY
  done
  mv "$tmp/torch" "$dest.new" && rm -rf "$tmp" "$dest" && mv "$dest.new" "$dest"
  echo "$dest"
}

# torch==$torch_version and its CUDA runtime (the nvidia-* / cuda-toolkit requirements its
# METADATA pins) pip-installed side by side into one directory, as in a site-packages: the
# wheel's libraries find the CUDA ones through their own RPATH ($ORIGIN/../../nvidia/*/lib).
# The wheels are kept in $cache/wheels/torch-<ver>/; a rerun installs from there, offline.
from_site_packages() {
  local name="torch-$torch_version"
  case "$torch_version" in 2.1.*) name="torch-$torch_version-cu121" ;; esac
  local dest="$cache/$name"
  if is_libtorch "$dest/torch" && [ -f "$dest/.complete" ]; then echo "$dest/torch"; return 0; fi
  local wheels="$cache/wheels/torch-$torch_version" whl
  mkdir -p "$wheels"
  whl=$(ls "$wheels"/torch-"$torch_version"-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$whl" ]; then
    whl=$(ls "$cache/wheels"/torch-"$torch_version"-*.whl 2>/dev/null | head -n1 || true)  # the CPU setup's download
    if [ -n "$whl" ]; then
      ln -f "$whl" "$wheels/" 2>/dev/null || cp "$whl" "$wheels/"
    else
      log "downloading the torch==$torch_version wheel from PyPI (cached in $wheels)"
      PIP_ROOT_USER_ACTION=ignore "$python" -m pip download --no-deps --quiet -d "$wheels" "torch==$torch_version" >&2 || return 1
    fi
    whl=$(ls "$wheels"/torch-"$torch_version"-*.whl | head -n1)
  fi
  local meta reqs rt
  meta=$(unzip -p "$whl" 'torch-*.dist-info/METADATA') || return 1
  # "Requires-Dist: nvidia-cudnn-cu12 (==8.9.2.26) ; platform_system == ..." -> "nvidia-cudnn-cu12==8.9.2.26"
  reqs=$(printf '%s\n' "$meta" | sed -n 's/^Requires-Dist: \(\(nvidia-\|cuda-toolkit\)[^;]*\).*/\1/p' | tr -d ' ()')
  [ -n "$reqs" ] || { log "torch==$torch_version's METADATA pins no nvidia-* or cuda-toolkit wheel"; return 1; }
  rt=$(printf '%s\n' "$reqs" | sed -n 's/^nvidia-cuda-runtime-cu12==//p')
  if [ -n "$rt" ]; then
    # Headers only, for internal/torchext/dist's NCCL code (nccl.h includes cuda_runtime.h):
    # the runtime wheel lacks crt/*.h (in the nvcc wheel of the same version) and the 12.1
    # cccl wheel lacks nv/target (first in 12.3's).
    reqs="$reqs nvidia-cuda-nvcc-cu12==$rt nvidia-cuda-cccl-cu12==12.3.101.post1"
  fi
  log "downloading torch==$torch_version's CUDA runtime wheels from PyPI (cached in $wheels): $(echo $reqs)"
  # shellcheck disable=SC2086
  PIP_ROOT_USER_ACTION=ignore "$python" -m pip download --quiet -d "$wheels" $reqs >&2 || return 1
  log "installing them with torch into $dest (pip --target, no network)"
  rm -rf "$dest.tmp"
  PIP_ROOT_USER_ACTION=ignore "$python" -m pip install --quiet --no-deps --no-index --no-compile --target "$dest.tmp" "$wheels"/*.whl >&2 \
    || { rm -rf "$dest.tmp"; return 1; }
  touch "$dest.tmp/.complete"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  echo "$dest/torch"
}

from_zip() {
  local v="${variant:-cpu}" dest="$cache/libtorch-$torch_version-${variant:-cpu}"
  if is_libtorch "$dest"; then echo "$dest"; return 0; fi
  local url="https://download.pytorch.org/libtorch/$v/libtorch-cxx11-abi-shared-with-deps-$torch_version%2B$v.zip"
  local zip="$cache/libtorch-$torch_version-$v.zip"
  if [ ! -f "$zip" ]; then
    log "downloading $url"
    curl -fL --retry 3 -o "$zip.part" "$url" >&2 || { rm -f "$zip.part"; return 1; }
    mv "$zip.part" "$zip"
  fi
  local tmp="$dest.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  unzip -q "$zip" -d "$tmp" && rm -rf "$dest" && mv "$tmp/libtorch" "$dest" && rm -rf "$tmp"
  echo "$dest"
}

if [ -n "${LIBTORCH:-}" ]; then
  is_libtorch "$LIBTORCH" || die "LIBTORCH=$LIBTORCH has no lib/libtorch_cpu.so, lib/libc10.so and include/torch"
  libtorch=$(cd "$LIBTORCH" && pwd)
elif [ "$want_cuda" = 1 ]; then
  libtorch=$(from_site_packages) || die "could not install torch==$torch_version with its CUDA runtime wheels from PyPI"
elif [ -n "$variant" ]; then
  libtorch=$(from_zip) || die "could not download the libtorch $torch_version $variant zip"
else
  libtorch=$(from_wheel) || { log "the PyPI wheel could not be had; trying the official zip"; libtorch=$(from_zip) ; } \
    || die "no libtorch: set LIBTORCH=/path/to/libtorch, or allow PyPI or download.pytorch.org"
fi

# --- 2. detect ABI, version and CUDA -----------------------------------------------------------
# The C++11 ABI mangles std::string as std::__cxx11::basic_string: look at how libc10 spells
# c10::detail::torchCheckFail(..., const std::string&). Not "any __cxx11 symbol": the pre-C++11
# wheel carries a few (libstdc++'s own exception constructors), and `nm | grep -q` under pipefail
# fails whenever grep quits before nm has written everything, which made the answer a race.
c10_syms=$(nm -D --defined-only "$libtorch/lib/libc10.so" 2>/dev/null) || die "nm could not read $libtorch/lib/libc10.so (binutils installed?)"
case "$c10_syms" in
  *_ZN3c106detail14torchCheckFailEPKcS2_jRKNSt7__cxx1112basic_string*) abi=1 ;;
  *_ZN3c106detail14torchCheckFailEPKcS2_jRKSs*) abi=0 ;;
  *) die "cannot tell the C++ ABI of $libtorch/lib/libc10.so (no c10::detail::torchCheckFail symbol)" ;;
esac
# (torch/version.h; since about 2.9 it includes torch/headeronly/version.h, which has the defines)
vh="$libtorch/include/torch/csrc/api/include/torch/version.h"
[ -f "$libtorch/include/torch/headeronly/version.h" ] && vh="$vh $libtorch/include/torch/headeronly/version.h"
# shellcheck disable=SC2086
version=$(for k in MAJOR MINOR PATCH; do sed -n "s/^#define TORCH_VERSION_$k \([0-9]*\).*/\1/p" $vh | head -n1; done | paste -sd. -)
case "$version" in [0-9]*.[0-9]*.[0-9]*) ;; *) die "cannot read libtorch's version from $vh" ;; esac
cuda=0
if [ -f "$libtorch/lib/libtorch_cuda.so" ]; then
  cuda_ldd=$(ldd "$libtorch/lib/libtorch_cuda.so" 2>&1 || true)
  case "$cuda_ldd" in *"not found"*) ;; *) cuda=1 ;; esac
fi
case "$version" in 2.1.*) ;; *) log "note: libtorch $version; gotch $gotch_version is generated for 2.1.x (patches/newer-torch/ is applied; data-parallel training is 2.1 only)";; esac
log "libtorch $version at $libtorch (C++11 ABI: $abi, CUDA: $cuda)"

# --- 3. the gotch copy with our link flags -----------------------------------------------------
gotch_src=$(cd "$cache" && go mod download -json "github.com/sugarme/gotch@$gotch_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$gotch_src" ] || die "go mod download github.com/sugarme/gotch@$gotch_version failed"
rm -rf "$tp/gotch.new"
cp -r "$gotch_src" "$tp/gotch.new"
chmod -R u+w "$tp/gotch.new"
# Drop what we never build (examples with their own mains, gotch's sudo setup scripts).
rm -rf "$tp/gotch.new/example" "$tp/gotch.new/setup-gotch.sh" "$tp/gotch.new/setup-libtorch.sh"

# drgrade's changes to gotch, one reviewed patch file per concern (third_party/patches/, made
# by scripts/gotch-patches.py; what and why at the top of each). For a libtorch other than 2.1
# also patches/newer-torch/ (C++ wrappers of ops whose ATen signatures changed).
command -v patch >/dev/null 2>&1 || die "the 'patch' program is missing (Debian/Ubuntu: apt-get install patch)"
patch_list=$(ls "$patches"/*.patch 2>/dev/null || true)
case "$version" in 2.1.*) ;; *) patch_list="$patch_list $(ls "$patches"/newer-torch/*.patch 2>/dev/null || true)";; esac
[ -n "$patch_list" ] || die "no patches in $patches (third_party/patches/ is part of the repository)"
for p in $patch_list; do
  out=$(patch -p1 --forward --fuzz=0 --no-backup-if-mismatch -r - -d "$tp/gotch.new" < "$p" 2>&1) \
    || die "patch ${p#"$here"/} does not apply to gotch $gotch_version (from $gotch_src):
$out"
done

ldflags="-L$libtorch/lib -Wl,-rpath,$libtorch/lib -ltorch_cpu -lc10 -lstdc++"
cudaflags=""
if [ "$cuda" = 1 ]; then
  # --no-as-needed: nothing of ours calls into libtorch_cuda, but loading it registers the CUDA
  # kernels and hooks. The nvidia wheels' lib directories (a site-packages layout) go in the
  # rpath too, and in -rpath-link for the linker to resolve libtorch_cuda's own dependencies.
  ldflags="$ldflags -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed"
  for d in "$libtorch"/../nvidia/*/lib; do
    [ -d "$d" ] || continue
    d=$(cd "$d" && pwd)
    ldflags="$ldflags -Wl,-rpath,$d -Wl,-rpath-link,$d"
  done
  cudaflags="-DDRGRADE_LIBTORCH_CUDA=1"
fi
cat > "$tp/gotch.new/libtch/lib.go" <<EOF
// Code generated by setup-libtorch.sh; DO NOT EDIT. It replaces gotch's lib.go, which hard-codes
// CUDA link flags and puts the ABI define in CFLAGS (where C++ files never see it).
package libtch

// #cgo LDFLAGS: $ldflags
// #cgo CFLAGS: -I\${SRCDIR} -O3 -Wall -Wno-unused-variable -Wno-deprecated-declarations -g -Wno-sign-compare -Wno-unused-function
// #cgo CPPFLAGS: -D_GLIBCXX_USE_CXX11_ABI=$abi $cudaflags
// #cgo CXXFLAGS: -std=c++17 -I\${SRCDIR} -g -O3 -Wno-deprecated-declarations -Wno-c++11-narrowing
// #cgo CXXFLAGS: -I$libtorch/include -I$libtorch/include/torch/csrc/api/include
import "C"
EOF
rm -rf "$tp/gotch" && mv "$tp/gotch.new" "$tp/gotch"

# --- 4. glue for our own cgo package ----------------------------------------------------------
ln -sfn "$libtorch" "$tp/libtorch"
# CUDA builds: one include directory with the nvidia wheels' headers (nccl.h, cuda_runtime.h,
# crt/, nv/, ...), which internal/torchext/dist's cgo flags name, for its NCCL code.
rm -rf "$tp/cuda"
if [ "$cuda" = 1 ]; then
  mkdir -p "$tp/cuda/include"
  for d in "$libtorch"/../nvidia/*/include; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
      b=$(basename "$f")
      case "$b" in __init__.py|__pycache__) continue ;; esac
      [ -e "$tp/cuda/include/$b" ] || ln -s "$(cd "$d" && pwd)/$b" "$tp/cuda/include/$b"
    done
  done
  # nccl.h includes cuda_runtime.h, which needs crt/ (nvcc wheel) and, from CUDA 12.2 on,
  # nv/target (cccl wheel): without them dist is compiled without its NCCL backend.
  nccl_headers=1
  for h in nccl.h cuda_runtime.h crt/host_config.h nv/target; do
    [ -e "$tp/cuda/include/$h" ] || nccl_headers=0
  done
  [ "$nccl_headers" = 1 ] || log "warning: no nccl.h with the CUDA headers it needs (crt/, nv/target) next to $libtorch: internal/torchext/dist is built without its NCCL backend (setup's own CUDA install, DRGRADE_CUDA=1, has them)"
fi
cat > "$tp/torch_abi.h" <<EOF
// Generated by setup-libtorch.sh: the ABI libtorch at $libtorch was built with.
// Included first by every C++ file of ours, so the define precedes all standard headers.
#pragma once
#define _GLIBCXX_USE_CXX11_ABI $abi
#define DRGRADE_LIBTORCH_CUDA $cuda
EOF
if [ "$cuda" = 1 ]; then
  echo "#define DRGRADE_NCCL_HEADERS $nccl_headers  // 1: nccl.h and the CUDA headers it needs were found" >> "$tp/torch_abi.h"
fi
cat > "$tp/libtorch.env" <<EOF
LIBTORCH_DIR=$libtorch
LIBTORCH_VERSION=$version
LIBTORCH_CXX11_ABI=$abi
LIBTORCH_CUDA=$cuda
GOTCH_VERSION=$gotch_version
EOF
if [ "$cuda" = 1 ]; then
  echo "LIBTORCH_CUDA_LIBS=$(cd "$libtorch/.." && pwd)/nvidia" >> "$tp/libtorch.env"
fi
echo "$inputs" > "$stamp"
log "wired gotch $gotch_version to libtorch $version (third_party/gotch, third_party/libtorch)"
