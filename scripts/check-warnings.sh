#!/usr/bin/env bash
# Builds the whole tree (program, engine, apim-sim, unit tests) with AIGW_WERROR=ON for every
# compiler × build type the project promises to build warning-free: GCC and clang, Debug,
# RelWithDebInfo, Release, MinSizeRel, and Debian's hardening flags (dpkg-buildflags, build type
# None as debhelper uses). Fails on the first warning. Build trees go under ${TMPDIR:-/tmp}.
#
#   bash scripts/check-warnings.sh [gcc|clang ...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${AIGW_JOBS:-2}
compilers=("$@")
[ ${#compilers[@]} -gt 0 ] || compilers=(gcc clang)
work=$(mktemp -d "${TMPDIR:-/tmp}/aigw-warnings.XXXXXX")
trap 'rm -rf "$work"' EXIT
for cc in "${compilers[@]}"; do
  for type in Debug RelWithDebInfo Release MinSizeRel hardening; do
    dir=$work/$cc-$type
    t0=$(date +%s)
    if [ "$type" = hardening ]; then
      CC=$cc CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
        LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
        cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=None -DAIGW_WERROR=ON >/dev/null
    else
      CC=$cc cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=$type -DAIGW_WERROR=ON >/dev/null
    fi
    if ! cmake --build "$dir" -j"$JOBS" >"$dir.log" 2>&1; then
      grep -E 'error|warning' "$dir.log" | head -20 >&2
      echo "check-warnings: $cc $type FAILED (log: $dir.log)" >&2
      trap - EXIT
      exit 1
    fi
    if grep -q 'warning:' "$dir.log"; then
      grep 'warning:' "$dir.log" | head -20 >&2
      echo "check-warnings: $cc $type printed warnings" >&2
      exit 1
    fi
    echo "check-warnings: $cc $type: warning-free ($(( $(date +%s) - t0 )) s)"
    rm -rf "$dir" "$dir.log"
  done
done
