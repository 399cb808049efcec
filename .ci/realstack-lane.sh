#!/usr/bin/env bash
# realstack-lane.sh: run openstrap's OpenStack-facing integration tests against
# real OpenStack services (Debian 12's Zed on 127.0.0.1, internal/realstack)
# instead of the in-process simulator.
#
# It brings the services up (installing them if missing), runs the converted
# suite with OS_CLOUD=realstack one test at a time (they share the member
# project: go test -p 1 -parallel 1, OPENSTRAP_TEST_EXCLUSIVE=1 so that each
# test's leftovers are deleted), prints the test counts and the known gaps
# (tests marked with cloudtest.RequireSim, listed in internal/cloudtest/gaps.go),
# always brings the services down, and exits non-zero when a test failed or
# the services did not come up.
#
# Environment: OPENSTRAP_REALSTACK_DIR, OPENSTRAP_REALSTACK_NICE (see
# internal/realstack/README.md); REALSTACK_LANE_LOG (default
# /tmp/realstack-lane.log) keeps the full go test -v output;
# REALSTACK_LANE_PACKAGES overrides the packages tested.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
RS=internal/realstack/realstack.sh
LOG=${REALSTACK_LANE_LOG:-/tmp/realstack-lane.log}
PKGS=${REALSTACK_LANE_PACKAGES:-./internal/cloudtest ./provider/... ./infra/...}
say() { printf '[realstack-lane %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

down() {
  local t0=$SECONDS
  "$RS" down >/tmp/realstack-lane-down.log 2>&1 || { say "down failed:"; tail -n 20 /tmp/realstack-lane-down.log; }
  say "services down in $((SECONDS - t0))s"
}
trap down EXIT

t0=$SECONDS
if ! "$RS" up; then
  say "FAIL: the real OpenStack services did not come up"
  exit 1
fi
say "services up in $((SECONDS - t0))s"
eval "$("$RS" env)"
export OS_CLOUD OS_CLIENT_CONFIG_FILE OPENSTRAP_TEST_EXCLUSIVE=1

t1=$SECONDS
# shellcheck disable=SC2086 # PKGS is a list of packages
go test -count=1 -p 1 -parallel 1 -timeout 45m -v $PKGS >"$LOG" 2>&1
rc=$?
say "go test on OS_CLOUD=$OS_CLOUD took $((SECONDS - t1))s (exit $rc; full output: $LOG)"

grep -E '^(ok|FAIL|---|panic:)' "$LOG" | grep -vE '^\s*--- (PASS|SKIP)' | grep -E '^(ok|FAIL)\s' || true
pass=$(grep -cE '^\s*--- PASS' "$LOG")
fail=$(grep -cE '^\s*--- FAIL' "$LOG")
skip=$(grep -cE '^\s*--- SKIP' "$LOG")
gaps=$(grep -oE 'known gap \(needs the simulator\): .*' "$LOG" | sed 's/^known gap (needs the simulator): //' | sort -u)
say "real OpenStack: $pass passed, $fail failed, $skip skipped (tests and subtests)"
say "known gaps (tests that need the simulator, registered in internal/cloudtest/gaps.go): $(grep -c . <<<"$gaps")"
printf '%s\n' "$gaps" | sed 's/^/  /'
other=$((skip - $(grep -c . <<<"$gaps")))
if [ "$other" -gt 0 ]; then
  say "skips that are not known gaps (tests' own t.Skip, e.g. testing.Short):"
  grep -E -B1 '^\s*--- SKIP' "$LOG" | grep -v 'known gap' | grep -vE '^\s*--- SKIP|^--$' | sed 's/^/  /' | head -n 40
fi
if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then
  say "FAIL: failures on the real services:"
  grep -E '^\s*--- FAIL' "$LOG" | sed 's/^/  /'
  exit 1
fi
say "PASS"
