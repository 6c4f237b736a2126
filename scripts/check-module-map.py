#!/usr/bin/env python3
"""Keeps the module map honest: every dependency a target declares in Package.swift is imported by
its sources (no unused arrow), every Lockstep module a source imports is declared (SwiftPM would let a
transitive one through), and docs/architecture.md lists the same arrows between the product modules."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
manifest = (root / "Package.swift").read_text()

targets = {}
for match in re.finditer(r'\.(target|executableTarget|testTarget)\(\s*name:\s*"([^"]+)"(.*?)swiftSettings', manifest, re.S):
    kind, name, body = match.groups()
    deps_match = re.search(r'dependencies:\s*\[(.*?)\]\s*,\s*(?:path|swiftSettings|$)', body + "swiftSettings", re.S)
    deps_text = deps_match.group(1) if deps_match else ""
    deps = set(re.findall(r'\.product\(name:\s*"([^"]+)"', deps_text))
    deps |= {d for d in re.findall(r'(?<![\w:] )"([A-Za-z][\w-]*)"', re.sub(r'\.product\([^)]*\)', '', deps_text))}
    path_match = re.search(r'path:\s*"([^"]+)"', body)
    base = "Tests" if kind == "testTarget" else "Sources"
    path = root / (path_match.group(1) if path_match else f"{base}/{name}")
    targets[name] = (kind, deps, path)

problems = []
module_of = {n: n.replace("-", "_") for n in targets}
for name, (kind, deps, path) in sorted(targets.items()):
    imports = set()
    for source in path.rglob("*.swift"):
        imports |= set(re.findall(r'^\s*(?:@testable\s+|@_exported\s+|public\s+|package\s+|internal\s+)?import\s+(\w+)', source.read_text(), re.M))
    for dep in sorted(deps):
        # An executable dependency is built for the tests that run it, never imported.
        if targets.get(dep, ("",))[0] == "executableTarget":
            continue
        if module_of.get(dep, dep) not in imports:
            problems.append(f"{name} declares {dep} but no source of {path.relative_to(root)} imports it: drop it from Package.swift")
    for imported in sorted(i for i in imports if i.startswith("Lockstep") and i != name):
        if imported not in deps:
            problems.append(f"{name} imports {imported} without declaring it in Package.swift: declare it (or drop the import)")

# The product modules' arrows, as docs/architecture.md draws them: lines `Name → A, B` in its module map.
doc = (root / "docs" / "architecture.md").read_text()
documented = {}
for line in doc.splitlines():
    m = re.match(r'^\s*(Lockstep\w+)\s+→\s+(.*)$', line)
    if m:
        documented[m.group(1)] = {d.strip() for d in m.group(2).split(",") if d.strip() and d.strip() != "(nothing)"}
library = {n: {d for d in deps if d.startswith("Lockstep") and d != "LockstepTestSupport"}
           for n, (kind, deps, _) in targets.items() if kind == "target" and n.startswith("Lockstep") and n != "LockstepTestSupport"}
for name in sorted(set(library) | set(documented)):
    if name not in documented:
        problems.append(f"docs/architecture.md's module map lacks `{name} → …` (Package.swift: {', '.join(sorted(library[name])) or '(nothing)'})")
    elif name not in library:
        problems.append(f"docs/architecture.md's module map names {name}, which Package.swift does not declare")
    elif documented[name] != library[name]:
        problems.append(f"module map arrows differ for {name}: docs say {sorted(documented[name])}, Package.swift says {sorted(library[name])}")

if problems:
    print("module map check failed:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"module map ok: {len(targets)} targets, {len(library)} library modules, arrows match docs/architecture.md")
