"""The orchestrator's subprocess contract: LOCKSTEP_INPUTS in, LOCKSTEP_OUTPUT out, stderr logs."""
from __future__ import annotations

import json
import os
import sys
import tempfile


def log(tool: str, message: str) -> None:
    print(f"[{tool}] {message}", file=sys.stderr, flush=True)


def read_inputs() -> dict:
    """Upstream outputs (task id -> output) from the JSON file named by LOCKSTEP_INPUTS, or {}."""
    path = os.environ.get("LOCKSTEP_INPUTS")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        inputs = json.load(f)
    if not isinstance(inputs, dict):
        raise ValueError(f"LOCKSTEP_INPUTS file {path} does not hold a JSON object")
    return inputs


def atomic_write_json(path: str, document) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_output(document: dict) -> None:
    """The task's output: to the file named by LOCKSTEP_OUTPUT when set, else stdout."""
    path = os.environ.get("LOCKSTEP_OUTPUT")
    if path:
        atomic_write_json(path, document)
    else:
        json.dump(document, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
