#!/usr/bin/env bash
# AIGW_WERROR: a default configure compiles without -Werror (a packager's newer compiler never
# fails the build on a new warning); with AIGW_WERROR=ON every project source compiles with
# -Werror placed after the user's CFLAGS (so CFLAGS=-Wno-error cannot turn it off).
#   werror_option.sh SOURCE_DIR
set -euo pipefail
src=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/aigw-werror.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

CFLAGS=-Wno-error cmake -S "$src" -B "$work/off" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
CFLAGS=-Wno-error cmake -S "$src" -B "$work/on" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DAIGW_WERROR=ON >/dev/null
for d in off on; do
  [ -s "$work/$d/compile_commands.json" ] || fail "no compile_commands.json in the $d build"
done
# every compile command of the project's own sources (the program, the modules, apim-sim, tests)
off=$(grep -c '"command":' "$work/off/compile_commands.json")
grep -q -- '-Werror' "$work/off/compile_commands.json" && fail "a default build compiles with -Werror"
grep -q -- '-Wall' "$work/off/compile_commands.json" || fail "a default build lost the warnings"
on_total=$(grep -c '"command":' "$work/on/compile_commands.json")
on_late=$(grep '"command":' "$work/on/compile_commands.json" | grep -c -- '-Wno-error.* -Werror' || true)
[ "$on_total" -gt 0 ] && [ "$on_total" = "$off" ] || fail "compile commands differ: $off vs $on_total"
[ "$on_late" = "$on_total" ] || fail "AIGW_WERROR=ON: only $on_late of $on_total compile commands put -Werror after the user's CFLAGS"
echo "werror_option: default build without -Werror; AIGW_WERROR=ON: -Werror after CFLAGS in all $on_total compile commands"
