#!/usr/bin/env bash
# Runs the Swift tests (already built) serially, line-buffered, under a watchdog.
#
# Why a watchdog: a test that hangs in a call no cancellation reaches (a blocking wait on a child
# process, a lost wake-up) would otherwise hold CI until its own limit and say nothing about where.
# Past LOCKSTEP_SWIFT_TEST_SECONDS (default 2100; the suite takes about 600 here) this prints the tests
# that started and never ended, every thread's backtrace of the test process, and fails.
# Line-buffered (stdbuf): when a run is killed, its output up to that moment is not lost in a buffer.
set -uo pipefail
cd "$(dirname "$0")/.."

limit_seconds=${LOCKSTEP_SWIFT_TEST_SECONDS:-2100}
log=.build/swift-test.log
mkdir -p .build

unfinished() {
    # Swift Testing prints '◇ Test NAME started.' and '✔/✘ Test NAME … after'.
    python3 - "$log" <<'EOF'
import re, sys
started, ended = [], set()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if m := re.match(r"◇ Test (.+?) started\.", line):
        started.append(m.group(1))
    elif m := re.match(r"[✔✘] Test (.+?) (?:with \d+ test cases? )?(?:passed|failed|recorded)", line):
        ended.add(m.group(1))
for name in started:
    if name not in ended and name != "run" and not name.startswith("case passing"):
        print("  ", name)
EOF
}

stdbuf -oL -eL swift test --skip-build --no-parallel "$@" > >(tee "$log") 2>&1 &
runner=$!
deadline=$((SECONDS + limit_seconds))

while kill -0 "$runner" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
        echo
        echo "run-swift-tests: still running after ${limit_seconds} s; tests started and not ended:"
        unfinished
        for pid in $(pgrep -f 'LockstepPackageTests.xctest'); do
            echo "run-swift-tests: backtraces of pid $pid"
            if command -v gdb >/dev/null; then
                gdb -batch -p "$pid" -ex "thread apply all bt 30" 2>&1 | grep -v -e '^\[New LWP' -e '^\[Thread debugging'
            else  # the Swift toolchain's own debugger
                lldb --batch -p "$pid" -o "thread backtrace all -c 30" 2>&1
            fi | head -3000
        done
        echo "run-swift-tests: gave up after ${limit_seconds} s; the tests that started and did not end:"
        unfinished
        pkill -KILL -f 'LockstepPackageTests.xctest'
        kill -KILL "$runner" 2>/dev/null
        exit 124
    fi
    sleep 5
done
wait "$runner"
