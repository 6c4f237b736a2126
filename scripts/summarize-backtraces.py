#!/usr/bin/env python3
"""Condenses `gdb thread apply all bt` output into a few lines: one per kind of thread.

Why: CI shows only the last lines of a failed run, and a test process has ~40 threads whose full
backtraces run to hundreds of lines, the idle ones last. This prints, per distinct stack, how many
threads share it, their names, the innermost frame (where they wait) and the frames of the project's
own code (why they wait), the project's threads first. Usage: summarize-backtraces.py FILE [MAX_LINES]
"""
import re
import shutil
import subprocess
import sys

THREAD = re.compile(r'^Thread \d+ \(Thread 0x[0-9a-f]+ \(LWP \d+\)(?: "([^"]*)")?')
FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+)")
OWN = ("Lockstep", "Testing")  # the project's modules, and the test that is running


def demangle(symbols):
    """Swift symbols as short names; as they are when the toolchain's demangler is missing."""
    tool = shutil.which("swift-demangle")
    mangled = [s for s in symbols if s.startswith("$s")]
    if not tool or not mangled:
        return {s: s for s in symbols}
    out = subprocess.run([tool, "--simplified", "--compact"], input="\n".join(mangled),
                         capture_output=True, text=True).stdout.splitlines()
    names = {s: s for s in symbols}
    names.update({m: re.sub(r"\(.*", "", d)[:80] for m, d in zip(mangled, out)})
    return names


def threads(lines):
    current = None
    for line in lines:
        if m := THREAD.match(line):
            current = {"name": m.group(1) or "?", "frames": []}
            yield current
        elif current is not None and (m := FRAME.match(line)):
            current["frames"].append(m.group(1))


def main():
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    found = list(threads(open(path, encoding="utf-8", errors="replace")))
    names = demangle({f for t in found for f in t["frames"]})
    groups = {}
    for t in found:
        frames = [names[f] for f in t["frames"]]
        own = [f for f, raw in zip(frames, t["frames"]) if any(o in raw for o in OWN)]
        key = (frames[0] if frames else "?", tuple(own[:4]))
        groups.setdefault(key, []).append(re.sub(r"\d+", "N", t["name"]))
    ordered = sorted(groups.items(), key=lambda kv: (not kv[0][1], -len(kv[1])))
    print(f"{len(found)} threads; where they wait ← the project's frames (innermost first):")
    for (top, own), members in ordered[:limit]:
        who = ",".join(sorted(set(members)))[:40]
        print(f"  {len(members)}× [{who}] {top}" + (" ← " + " ← ".join(own) if own else ""))
    if len(ordered) > limit:
        print(f"  … {len(ordered) - limit} more kinds in {path}")


if __name__ == "__main__":
    main()
