#!/usr/bin/env bash
# Runs the Swift tests (already built) serially, line-buffered, under a watchdog.
#
# Why a watchdog: a test that hangs in a call no cancellation reaches (a blocking wait on a child
# process, a lost wake-up) would otherwise hold CI until its own limit and say nothing about where.
# Past LOCKSTEP_SWIFT_TEST_SECONDS (default 2100; the suite takes about 600 here) this prints the tests
# that started and never ended, every thread's backtrace of the test process (in full, then summed up
# in a few lines: CI shows only a run's last lines), and fails.
# A process that ran every test but has not exited LOCKSTEP_SWIFT_TEST_EXIT_SECONDS (120) after Swift Testing's
# summary gets the same backtraces and is stopped; the summary's verdict is then the result.
# Line-buffered (stdbuf): when a run is killed, its output up to that moment is not lost in a buffer.
set -uo pipefail
cd "$(dirname "$0")/.."

limit_seconds=${LOCKSTEP_SWIFT_TEST_SECONDS:-2100}
log=.build/swift-test.log
mkdir -p .build

unfinished() {
    # Swift Testing prints '◇ Test NAME started.' and, at its end, '✔ Test NAME passed after N seconds'
    # or '✘ … failed after …' (with 'with K test cases' before it for a parameterized test). A test's
    # name may itself say "passed" or "failed", so the end is matched greedily, up to "after N seconds".
    python3 - "$log" <<'EOF'
import re, sys
started, ended = [], set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if m := re.match(r"◇ Test (.+?) started\.", line):
        started.append(m.group(1))
    elif m := re.match(r"[✔✘] Test (.+) (?:passed|failed) after [\d.]+ seconds", line):
        ended.add(re.sub(r" with \d+ test cases?$", "", m.group(1)))
for name in started:
    if name not in ended and name != "run" and not name.startswith("case passing"):
        print("  ", name)
EOF
}

# The test process of this run (swift-test's child), not another run's on the same machine.
test_processes() {
    pgrep -P "$runner" -f 'LockstepPackageTests.xctest'
}

# Writes every thread's backtrace of the test process to a file and prints it (capped), then a few
# lines saying where the threads wait, last: CI shows only the last lines of a run.
backtraces() {
    local dump=.build/hang-backtraces.txt
    : > "$dump"
    for pid in $(test_processes); do
        echo "backtraces of pid $pid" >> "$dump"
        if command -v gdb >/dev/null; then
            gdb -batch -p "$pid" -ex "thread apply all bt 40" 2>&1 \
                | grep -v -e '^\[New LWP' -e '^\[Thread debugging' -e '^During symbol reading' -e '^warning:'
        else  # the Swift toolchain's own debugger
            lldb --batch -p "$pid" -o "thread backtrace all -c 40" 2>&1
        fi >> "$dump"
    done
    head -c 200000 "$dump"
    echo
    python3 scripts/summarize-backtraces.py "$dump" 16
}

: > "$log"  # emptied first: the watchdog below reads it, and must not see the last run's summary
stdbuf -oL -eL swift test --skip-build --no-parallel "$@" > >(tee "$log") 2>&1 &
runner=$!
deadline=$((SECONDS + limit_seconds))
# Once Swift Testing has printed the run's summary, the process has only its exit left (the shared
# servers' cleanup takes seconds): one that has not exited in exit_seconds is stuck there, and waiting
# out the whole limit would not say so.
exit_seconds=${LOCKSTEP_SWIFT_TEST_EXIT_SECONDS:-120}
exit_deadline=

while kill -0 "$runner" 2>/dev/null; do
    if [[ -z $exit_deadline ]] && grep -q -E '^[✔✘] Test run with [0-9]+ tests? ' "$log"; then
        exit_deadline=$((SECONDS + exit_seconds))
    fi
    if [[ -n $exit_deadline ]] && ((SECONDS >= exit_deadline)); then
        # Every test has its verdict: the run's result is the summary's. Where the exit is stuck is
        # printed for whoever mends the test support; it is not a test's failure.
        echo
        backtraces
        echo "run-swift-tests: every test ended, but the test process did not exit within ${exit_seconds} s (where its threads wait: above); stopped it"
        test_processes | xargs -r kill -KILL
        kill -KILL "$runner" 2>/dev/null
        summary=$(grep -E '^[✔✘] Test run with [0-9]+ tests? ' "$log" | tail -1)
        echo "run-swift-tests: the run's result: $summary"
        [[ $summary == ✔* ]] && exit 0
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo
        echo "run-swift-tests: still running after ${limit_seconds} s; tests started and not ended:"
        unfinished
        backtraces
        echo "run-swift-tests: gave up after ${limit_seconds} s; the tests that started and did not end:"
        unfinished
        test_processes | xargs -r kill -KILL
        kill -KILL "$runner" 2>/dev/null
        exit 124
    fi
    sleep 5
done
wait "$runner"
