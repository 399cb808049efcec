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
# The packages run side by side, each as the member of a project of its own
# (clouds.yaml: demo; clouds-demo-N.yaml: demo-N), one test at a time within
# a package: a test compares the whole project before and after.
STATE_DIR=$(dirname "$OS_CLIENT_CONFIG_FILE")
if [ -n "${REALSTACK_LANE_PACKAGES:-}" ]; then
  STREAMS=("$OS_CLIENT_CONFIG_FILE|$PKGS")
else
  STREAMS=("$OS_CLIENT_CONFIG_FILE|./internal/cloudtest ./provider"
    "$STATE_DIR/clouds-demo-2.yaml|./provider/openstacktest"
    "$STATE_DIR/clouds-demo-3.yaml|./infra/...")
fi
pids=() logs=()
for i in "${!STREAMS[@]}"; do
  cfg=${STREAMS[$i]%%|*} pk=${STREAMS[$i]#*|}
  logs+=("$LOG.$i")
  # shellcheck disable=SC2086 # pk is a list of packages
  OS_CLIENT_CONFIG_FILE=$cfg go test -count=1 -p 1 -parallel 1 -timeout 45m -v $pk >"$LOG.$i" 2>&1 &
  pids+=($!)
done
rc=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || rc=1
done
cat "${logs[@]}" >"$LOG"
rm -f "${logs[@]}"
say "go test on OS_CLOUD=$OS_CLOUD took $((SECONDS - t1))s in ${#STREAMS[@]} projects side by side (exit $rc; full output: $LOG)"

grep -E '^(ok|FAIL)\s' "$LOG" || true
# Tests that ran on the real cloud log cloudtest.RealCloudMark; the rest of
# these packages (unit tests, simulator-only tests) ran in process.
read -r rpass rfail rskip <<<"$(awk '
  /^=== (RUN|NAME|CONT|PAUSE) / { cur = $3 }
  /cloudtest: on the real cloud/ { real[cur] = 1 }
  match($0, /^ *--- (PASS|FAIL|SKIP): [^ ]+/) {
    split(substr($0, RSTART, RLENGTH), f, " "); st = f[2]; name = f[3]
    top = name; sub(/\/.*/, "", top)
    if (top in real) n[st]++
  }
  END { printf "%d %d %d\n", n["PASS:"], n["FAIL:"], n["SKIP:"] }' "$LOG")"
pass=$(grep -cE '^\s*--- PASS' "$LOG")
fail=$(grep -cE '^\s*--- FAIL' "$LOG")
skip=$(grep -cE '^\s*--- SKIP' "$LOG")
gaps=$(grep -oE 'known gap \(needs the simulator\): .*' "$LOG" | sed 's/^known gap (needs the simulator): //' | sort -u)
ngaps=$(grep -c . <<<"$gaps")
say "tests (and subtests) on the real OpenStack: $rpass passed, $rfail failed, $rskip skipped"
say "all tests and subtests in $PKGS: $pass passed, $fail failed, $skip skipped"
say "known gaps: $ngaps tests need the simulator (internal/cloudtest/gaps.go):"
printf '%s\n' "$gaps" | sed 's/^/  /'
if [ "$skip" -gt "$ngaps" ]; then
  say "other skips (the tests' own t.Skip):"
  grep -E '^\s*--- SKIP' "$LOG" | sed 's/^/  /' | grep -vF -f <(printf '%s\n' "$gaps" | sed 's/^[^.]*\.\([^:]*\):.*/\1 /') | head -n 40 || true
fi
if [ "$fail" -gt 0 ] || [ "$rc" -ne 0 ]; then
  say "FAIL: failures:"
  grep -E '^\s*--- FAIL' "$LOG" | sed 's/^/  /'
  # CI keeps only this output: show what the failing tests logged.
  say "the failing tests' output (last 300 lines of it):"
  grep -B 60 -E '^\s*--- FAIL|^FAIL|panic:|build failed' "$LOG" | tail -n 300
  exit 1
fi
say "PASS"
