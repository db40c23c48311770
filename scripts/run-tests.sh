#!/usr/bin/env bash
# Runs every *.test.ts under the given folders with Node's test runner (through tsx) and fails when
# nothing ran. Node 20's runner neither finds .ts files nor expands a quoted glob, and with an empty
# file list it reports 0 tests and exits 0 — so the list is built here and the totals are checked.
#
#   scripts/run-tests.sh test/unit [more folders or files...]
#
# FAIL_ON_SKIP=1 (set by .ci/run) also fails the run when a test was skipped: in CI every suite's
# prerequisites are installed, so a skip there means something is missing, not that it passed.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || { echo "usage: $0 <folder|file>..." >&2; exit 2; }
mapfile -t files < <(find "$@" -type f -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "run-tests: no *.test.ts files under: $*" >&2
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
node --import tsx --test --test-reporter=spec ${TEST_CONCURRENCY:+--test-concurrency="$TEST_CONCURRENCY"} \
  "${files[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

total() { sed -n "s/^ℹ $1 \([0-9][0-9]*\)\$/\1/p" "$out" | tail -n 1; }
tests=$(total tests); passed=$(total pass); failed=$(total fail); skipped=$(total skipped); todo=$(total todo)
echo "run-tests: ${#files[@]} files, ${tests:-0} tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "${tests:-0}" -eq 0 ]; then
  echo "run-tests: no test ran — failing" >&2
  exit 1
fi
if [ "${FAIL_ON_SKIP:-0}" = 1 ] && [ $(( ${skipped:-0} + ${todo:-0} )) -gt 0 ]; then
  echo "run-tests: ${skipped:-0} skipped / ${todo:-0} todo with FAIL_ON_SKIP=1 — failing" >&2
  exit 1
fi
exit "$rc"
