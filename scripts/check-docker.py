#!/usr/bin/env python3
"""Static check of docker/ (no Docker engine needed): is the compose file valid, and does every
`lockstep` command, flag and LOCKSTEP_* variable it and the Dockerfile use really exist?

Usage: scripts/check-docker.py BINARY [--root DIR]
  BINARY  a built `lockstep` (e.g. .build/debug/lockstep); its `--help` is the truth about commands
          and flags.
  --root  the repository root (default: this script's parent folder).

Checks
  compose.yaml   top-level and service keys; an image or a build whose context and Dockerfile exist;
                 a health check on every service (compose or the built Dockerfile's HEALTHCHECK);
                 depends_on targets exist, conditions are valid, `service_healthy` targets have a
                 health check, no cycles, no dependency on a profile-only service; ports parse, are in
                 range, no host port twice, none fixed on a replicated service; bind-mount sources
                 exist, named volumes are declared; ${VAR} interpolation has a default or a value in
                 docker/.env.example; credentials only through ${VAR} (default at most the seed's demo
                 password); LOCKSTEP_BUS / LOCKSTEP_STATE / LOCKSTEP_CONN_* / LOCKSTEP_VAR_*_URL name a
                 service, a port it listens on, a Kafka advertised listener, a database it creates and
                 its password; the KRaft CLUSTER_ID is a base64 UUID and the listeners agree.
  Dockerfile     COPY sources exist; the final stage is not root, has a HEALTHCHECK in exec form and
                 ENTRYPOINT ["lockstep"].
  lockstep argv  every `lockstep …` in compose.yaml (entrypoint + command, health checks), the
                 Dockerfile (RUN, HEALTHCHECK, ENTRYPOINT + CMD) and docker/README.md code blocks:
                 the subcommand path exists, every --flag is in that command's --help, flags given a
                 value take one, and the positional arguments fit.
  LOCKSTEP_*     every name used in those files is a literal the code reads (grep of Sources/), or
                 LOCKSTEP_VAR_<variable> / LOCKSTEP_CONN_<connection> declared in config/lockstep.yaml,
                 or LOCKSTEP_KAFKA_<property> naming a librdkafka property (checked by the installed
                 librdkafka itself when it can be loaded, else by its lower-case dotted shape).

Exits 1 naming every problem, 0 when there is none.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import ctypes.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

SEED_DEMO_PASSWORD = "password"  # the seed's documented demo password (airflow-workflows.md)

TOP_LEVEL_KEYS = {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models"}
SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command",
    "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop",
    "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck",
    "hostname", "image", "init", "ipc", "isolation", "labels", "label_file", "links", "logging", "mac_address",
    "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "models", "network_mode", "networks",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
    "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets",
    "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs",
    "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
DEPENDS_ON_KEYS = {"condition", "restart", "required"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
CREDENTIAL_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|PASSWD", re.I)
LOCKSTEP_NAME = re.compile(r"\bLOCKSTEP_[A-Z0-9_]+")
KAFKA_PROPERTY = re.compile(r"^[a-z][a-z0-9]*(\.[a-z0-9]+)*$")
KNOWN_PREFIX_KINDS = {"LOCKSTEP_VAR_": "variable", "LOCKSTEP_CONN_": "connection", "LOCKSTEP_KAFKA_": "kafka"}


class Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, message: str) -> None:
        if (where, message) not in self.items:
            self.items.append((where, message))

    def extend(self, other: "Problems", note: str = "") -> None:
        for where, message in other.items:
            self.add(where, message + note)

    def lines(self) -> list[str]:
        """One line per message; the places that share it (e.g. services built from one YAML anchor) joined."""
        grouped: dict[str, list[str]] = {}
        for where, message in self.items:
            grouped.setdefault(message, []).append(where)
        out = []
        for message, wheres in grouped.items():
            parts = [re.match(r"^(.* services\.)([A-Za-z0-9_-]+)((?:\..*)?)$", w) for w in wheres]
            if len(wheres) > 1 and all(parts) and len({(p.group(1), p.group(3)) for p in parts}) == 1:
                where = f"{parts[0].group(1)}{{{', '.join(p.group(2) for p in parts)}}}{parts[0].group(3)}"
            else:
                where = "; ".join(wheres)
            out.append(f"{where}: {message}")
        return out


# ------------------------------------------------------------------------------------------------
# Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err},
# ${VAR:+alt}, ${VAR+alt}, $VAR and $$.

INTERPOLATION = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolation_refs(text: str) -> list[tuple[str, str | None, str | None]]:
    """(variable, operator, argument) for each reference in text."""
    refs = []
    for m in INTERPOLATION.finditer(text):
        if m.group(1):
            continue
        refs.append((m.group(2) or m.group(5), m.group(3), m.group(4)))
    return refs


def interpolate(text: str, env: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        value = env.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return interpolate(arg, env)
            return value
        if op in (":+", "+"):
            return interpolate(arg, env) if value is not None and (op == "+" or value != "") else ""
        return value or ""

    return INTERPOLATION.sub(repl, text)


def walk_strings(node, path=""):
    """Yields (path, string) for every string (keys of mappings included) in a YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def map_strings(node, fn):
    if isinstance(node, dict):
        return {k: map_strings(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [map_strings(v, fn) for v in node]
    if isinstance(node, str):
        return fn(node)
    return node


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    if not path.exists():
        return env
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        env[key.strip()] = value.strip().strip('"').strip("'")
    return env


# ------------------------------------------------------------------------------------------------
# Dockerfile parsing.

class Dockerfile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.instructions: list[tuple[int, str, str, int]] = []  # (line, keyword, rest, stage index)
        stage = -1
        logical, start = "", 0
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            stripped = raw.strip()
            if stripped.startswith("#") and (logical or not stripped.startswith("# syntax")):
                continue
            if not stripped and not logical:
                continue
            if not logical:
                start = number
            if stripped.endswith("\\"):
                logical += stripped[:-1] + " "
                continue
            logical += stripped
            keyword, _, rest = logical.strip().partition(" ")
            keyword = keyword.upper()
            if keyword == "FROM":
                stage += 1
            if not keyword.startswith("#"):
                self.instructions.append((start, keyword, rest.strip(), stage))
            logical = ""
        self.final_stage = stage

    def final(self, keyword: str) -> list[tuple[int, str]]:
        return [(n, r) for n, k, r, s in self.instructions if k == keyword and s == self.final_stage]

    def env_names(self) -> list[str]:
        names = []
        for _, keyword, rest, _ in self.instructions:
            if keyword == "ENV":
                tokens = shlex.split(rest)
                if tokens and "=" not in tokens[0]:
                    names.append(tokens[0])
                else:
                    names.extend(t.split("=", 1)[0] for t in tokens)
        return names


def exec_or_shell(text: str) -> tuple[list[str] | None, str | None]:
    """A Dockerfile CMD/ENTRYPOINT/HEALTHCHECK CMD argument: (argv, None) in exec form, (None, script) in shell form."""
    text = text.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value, None
        except json.JSONDecodeError:
            pass
    return None, text


def split_healthcheck(rest: str) -> tuple[dict[str, str], str]:
    options = {}
    tokens = rest.split()
    i = 0
    while i < len(tokens) and tokens[i].startswith("--"):
        key, _, value = tokens[i][2:].partition("=")
        options[key] = value
        i += 1
    remainder = rest.split(None, i)[-1] if i else rest
    return options, remainder


def shell_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script (split on && || ; |), each as argv; unparsable parts dropped."""
    commands = []
    for part in re.split(r"&&|\|\||;|\|", script):
        try:
            argv = shlex.split(part, comments=True)
        except ValueError:
            continue
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            argv = argv[1:]
        if argv and argv[0] in ("exec", "command"):
            argv = argv[1:]
        if argv:
            commands.append(argv)
    return commands


def is_lockstep(word: str) -> bool:
    return os.path.basename(word) == "lockstep"


# ------------------------------------------------------------------------------------------------
# The CLI's truth: `lockstep … --help`.

class Help:
    def __init__(self, text: str) -> None:
        self.text = text
        self.subcommands: list[str] = []
        self.default_subcommand: str | None = None
        self.options: dict[str, bool] = {}  # --name -> takes a value
        self.arguments: list[tuple[str, bool, bool]] = []  # (name, optional, repeating)
        section = None
        usage_lines = []
        for line in text.splitlines():
            header = re.match(r"^([A-Z][A-Z ]*):(.*)$", line)
            if header:
                section = header.group(1)
                if section == "USAGE":
                    usage_lines.append(header.group(2))
                continue
            if section == "USAGE" and line.strip():
                usage_lines.append(line)
            elif section == "SUBCOMMANDS":
                m = re.match(r"^  ([a-z][a-z0-9-]*)( \(default\))?(\s|$)", line)
                if m:
                    self.subcommands.append(m.group(1))
                    if m.group(2):
                        self.default_subcommand = m.group(1)
            elif section and section.endswith("OPTIONS"):
                m = re.match(r"^  (-[A-Za-z0-9], )?(--[a-z0-9][a-z0-9-]*)((?:/--[a-z0-9-]+)?)( <[^>]+>)?(\s|$)", line)
                if m:
                    takes_value = bool(m.group(4))
                    self.options[m.group(2)] = takes_value
                    if m.group(3):
                        self.options[m.group(3)[1:]] = takes_value
                    if m.group(1):
                        self.options[m.group(1)[:2]] = takes_value
            elif section == "ARGUMENTS":
                m = re.match(r"^  <([^>]+)>( \.\.\.)?", line)
                if m:
                    self.arguments.append([m.group(1), False, bool(m.group(2))])
        usage = " ".join(usage_lines)
        for argument in self.arguments:
            name = re.escape(argument[0])
            argument[1] = bool(re.search(rf"\[<{name}>( \.\.\.)?\]", usage))
            argument[2] = argument[2] or bool(re.search(rf"<{name}> \.\.\.", usage))
        self.options.setdefault("--help", False)
        self.options.setdefault("-h", False)


class CLI:
    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.cache: dict[tuple[str, ...], Help | None] = {}

    def help(self, path: tuple[str, ...]) -> Help | None:
        if path not in self.cache:
            env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKSTEP_")}
            try:
                done = subprocess.run([str(self.binary), *path, "--help"], capture_output=True, text=True, timeout=60, env=env)
                self.cache[path] = Help(done.stdout) if done.returncode == 0 and "USAGE:" in done.stdout else None
            except (OSError, subprocess.TimeoutExpired):
                self.cache[path] = None
        return self.cache[path]

    def check(self, argv: list[str], where: str, problems: Problems) -> None:
        """argv: the arguments after `lockstep`."""
        shown = "lockstep " + " ".join(shlex.quote(a) for a in argv)
        path: tuple[str, ...] = ()
        help = self.help(path)
        if help is None:
            problems.add(where, f"`{self.binary} --help` failed; cannot check `{shown}`")
            return
        i = 0
        if argv and argv[0] == "help":  # `lockstep help <subcommand…>`
            argv = argv[1:] + ["--help"]
        while i < len(argv) and help.subcommands:
            word = argv[i]
            if word in help.subcommands:
                path += (word,)
                i += 1
            elif word.startswith("-") or help.default_subcommand is None:
                if word.startswith("-") and word in help.options:
                    break
                if help.default_subcommand is None:
                    problems.add(where, f"`{shown}`: `{word}` is not a subcommand of `lockstep{''.join(' ' + p for p in path)}` "
                                 f"(it has: {', '.join(help.subcommands)})")
                    return
                path += (help.default_subcommand,)
            else:
                path += (help.default_subcommand,)
            help = self.help(path)
            if help is None:
                problems.add(where, f"`{shown}`: `lockstep {' '.join(path)} --help` failed")
                return
        if help.subcommands and not help.default_subcommand and i >= len(argv):
            problems.add(where, f"`{shown}`: `lockstep{''.join(' ' + p for p in path)}` needs a subcommand ({', '.join(help.subcommands)})")
            return
        command = "lockstep" + "".join(" " + p for p in path)
        positionals = []
        asks_help = False
        while i < len(argv):
            word = argv[i]
            if word == "--":
                positionals.extend(argv[i + 1:])
                break
            if word.startswith("-") and len(word) > 1 and not re.match(r"^-\d", word):
                name, has_inline, _ = word.partition("=")
                if name not in help.options:
                    known = ", ".join(sorted(o for o in help.options if o.startswith("--")))
                    problems.add(where, f"`{shown}`: `{command}` has no option `{name}` (its options: {known})")
                elif help.options[name] and not has_inline:
                    if i + 1 >= len(argv):
                        problems.add(where, f"`{shown}`: `{name}` needs a value")
                    i += 1
                elif not help.options[name] and has_inline:
                    problems.add(where, f"`{shown}`: `{name}` is a flag and takes no value")
                asks_help = asks_help or name in ("--help", "-h")
            else:
                positionals.append(word)
            i += 1
        if asks_help:
            return
        required = sum(1 for _, optional, _ in help.arguments if not optional)
        repeating = any(rep for _, _, rep in help.arguments)
        if len(positionals) < required:
            missing = [f"<{n}>" for n, optional, _ in help.arguments if not optional][len(positionals):]
            problems.add(where, f"`{shown}`: `{command}` needs {' '.join(missing)}")
        elif not repeating and len(positionals) > len(help.arguments):
            problems.add(where, f"`{shown}`: `{command}` takes {len(help.arguments)} argument(s), "
                         f"given {len(positionals)}: {' '.join(positionals)}")


# ------------------------------------------------------------------------------------------------
# What the code reads.

class CodeNames:
    def __init__(self, root: Path) -> None:
        literals = set()
        for source in (root / "Sources").rglob("*.swift"):
            literals.update(re.findall(r'"(LOCKSTEP_[A-Z0-9_]+)"', source.read_text(errors="replace")))
        self.prefixes = {n for n in literals if n.endswith("_")}
        self.names = literals - self.prefixes
        config = yaml.safe_load((root / "config" / "lockstep.yaml").read_text()) or {}
        self.variables = set((config.get("variables") or {}).keys())
        self.connections = {c.lower() for c in (config.get("connections") or {}).keys()}
        self.kafka = Librdkafka()

    def check(self, name: str, value: str | None, where: str, problems: Problems) -> None:
        if name in self.names or name in self.prefixes:
            return
        prefix = next((p for p in sorted(self.prefixes, key=len, reverse=True) if name.startswith(p)), None)
        if prefix is None:
            problems.add(where, f"{name}: no code reads it (Sources/ reads {', '.join(sorted(self.names))} "
                         f"and the prefixes {', '.join(sorted(self.prefixes))})")
            return
        suffix = name[len(prefix):]
        kind = KNOWN_PREFIX_KINDS.get(prefix)
        if kind == "variable" and suffix not in self.variables:
            problems.add(where, f"{name}: `{suffix}` is not a variable in config/lockstep.yaml ({', '.join(sorted(self.variables))})")
        elif kind == "connection" and suffix.lower() not in self.connections:
            problems.add(where, f"{name}: `{suffix.lower()}` is not a connection in config/lockstep.yaml ({', '.join(sorted(self.connections))})")
        elif kind == "kafka":
            prop = suffix.lower().replace("_", ".")
            if not KAFKA_PROPERTY.match(prop):
                problems.add(where, f"{name}: `{prop}` is not a librdkafka property name (lower case, dots)")
            else:
                error = self.kafka.check(prop, value)
                if error:
                    problems.add(where, f"{name}: {error}")


class Librdkafka:
    """Asks the installed librdkafka whether a property exists (and accepts a value)."""

    def __init__(self) -> None:
        self.lib = None
        for candidate in ("/usr/local/lib/librdkafka.so.1", ctypes.util.find_library("rdkafka")):
            if not candidate:
                continue
            try:
                lib = ctypes.CDLL(candidate)
                lib.rd_kafka_conf_new.restype = ctypes.c_void_p
                lib.rd_kafka_conf_destroy.argtypes = [ctypes.c_void_p]
                lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
                lib.rd_kafka_conf_set.restype = ctypes.c_int
                self.lib = lib
                break
            except (OSError, AttributeError):
                continue

    def check(self, prop: str, value: str | None) -> str | None:
        if self.lib is None or prop == "bootstrap.servers":
            return None
        conf = self.lib.rd_kafka_conf_new()
        try:
            errstr = ctypes.create_string_buffer(512)
            result = self.lib.rd_kafka_conf_set(conf, prop.encode(), (value if value is not None else "").encode(), errstr, 512)
            if result == -2:  # RD_KAFKA_CONF_UNKNOWN
                return f"librdkafka has no property `{prop}`"
            if result == -1 and value is not None:  # RD_KAFKA_CONF_INVALID
                return f"librdkafka rejects `{prop}={value}`: {errstr.value.decode(errors='replace')}"
            return None
        finally:
            self.lib.rd_kafka_conf_destroy(conf)


# ------------------------------------------------------------------------------------------------
# Compose checks.

def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def environment_of(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else None
        return out
    if isinstance(env, dict):
        return {str(k): (None if v is None else str(v)) for k, v in env.items()}
    return {}


def argv_of(value) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def parse_port(spec, where: str, problems: Problems) -> tuple[str, int | None, int, str] | None:
    """(host ip, host port or None, container port, protocol)."""
    if isinstance(spec, dict):
        try:
            target = int(spec["target"])
            published = spec.get("published")
            return (str(spec.get("host_ip", "")), int(published) if published not in (None, "") else None, target,
                    str(spec.get("protocol", "tcp")))
        except (KeyError, ValueError, TypeError):
            problems.add(where, f"port {spec!r}: long syntax needs a numeric `target`")
            return None
    text = str(spec)
    m = re.match(r"^(?:(\[[^\]]+\]|\d+\.\d+\.\d+\.\d+):)?(?:(\d+)(?:-\d+)?:)?(\d+)(?:-\d+)?(?:/(tcp|udp|sctp))?$", text)
    if not m:
        problems.add(where, f"port `{text}` is not [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")
        return None
    host = int(m.group(2)) if m.group(2) else None
    container = int(m.group(3))
    for port in (host, container):
        if port is not None and not 1 <= port <= 65535:
            problems.add(where, f"port `{text}`: {port} is out of range")
    return (m.group(1) or "", host, container, m.group(4) or "tcp")


def check_healthcheck(hc, where: str, problems: Problems) -> bool:
    """True when hc is an enabled, well-formed health check."""
    if not isinstance(hc, dict):
        problems.add(where, "healthcheck must be a mapping")
        return False
    for key in hc:
        if key not in HEALTHCHECK_KEYS:
            problems.add(where, f"healthcheck has unknown key `{key}`")
    if hc.get("disable") is True:
        return False
    test = hc.get("test")
    if isinstance(test, list):
        if not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            problems.add(where, "healthcheck.test must start with CMD, CMD-SHELL or NONE")
            return False
        if test[0] == "NONE":
            return False
        if len(test) < 2:
            problems.add(where, "healthcheck.test has no command")
            return False
    elif not isinstance(test, str) or not test.strip():
        problems.add(where, "healthcheck.test is missing")
        return False
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in hc and not DURATION.match(str(hc[key])):
            problems.add(where, f"healthcheck.{key} `{hc[key]}` is not a duration such as 10s or 1m30s")
    if "retries" in hc and (not isinstance(hc["retries"], int) or hc["retries"] < 0):
        problems.add(where, "healthcheck.retries must be a non-negative integer")
    return True


def healthcheck_argvs(hc) -> list[tuple[list[str], bool]]:
    """(argv, exec form?) of each simple command a health check runs."""
    if not isinstance(hc, dict):
        return []
    test = hc.get("test")
    if isinstance(test, list) and test and test[0] == "CMD":
        return [([str(t) for t in test[1:]], True)]
    script = test[1] if isinstance(test, list) and len(test) > 1 else test if isinstance(test, str) else ""
    return [(argv, False) for argv in shell_commands(str(script))]


def initdb_databases(service: dict, compose_dir: Path) -> set[str]:
    """Databases created by SQL or shell scripts bind-mounted into /docker-entrypoint-initdb.d."""
    names = set()
    for volume in as_list(service.get("volumes")):
        if isinstance(volume, str) and "/docker-entrypoint-initdb.d" in volume:
            source = (compose_dir / volume.split(":", 1)[0]).resolve()
            if source.is_file():
                names.update(m.lower() for m in re.findall(r"CREATE\s+DATABASE\s+\"?([A-Za-z_][A-Za-z0-9_]*)", source.read_text(), re.I))
    return names


def kafka_listeners(env: dict[str, str | None]) -> dict[str, dict[str, str]]:
    def parse(text):
        out = {}
        for item in (text or "").split(","):
            m = re.match(r"^\s*([A-Za-z0-9_]+)://([^:]*):(\d+)\s*$", item)
            if m:
                out[m.group(1)] = f"{m.group(2)}:{m.group(3)}"
        return out

    protocol_map = dict(p.split(":", 1) for p in (env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") or "").split(",") if ":" in p)
    return {"listeners": parse(env.get("KAFKA_LISTENERS")), "advertised": parse(env.get("KAFKA_ADVERTISED_LISTENERS")),
            "map": protocol_map}


def check_compose(root: Path, cli: CLI, names: CodeNames, problems: Problems) -> None:
    """Checks compose.yaml as a user without docker/.env gets it (every default) and with .env.example's values."""
    example = read_env_file(root / "docker" / ".env.example")
    bare, filled = Problems(), Problems()
    check_compose_with(root, cli, names, bare, {})
    check_compose_with(root, cli, names, filled, example)
    for item in bare.items:
        if item in filled.items:
            problems.add(*item)
        else:
            problems.add(item[0], item[1] + " (with no docker/.env: the defaults)")
    for item in filled.items:
        if item not in bare.items:
            problems.add(item[0], item[1] + " (with docker/.env.example's values)")


def check_compose_with(root: Path, cli: CLI, names: CodeNames, problems: Problems, values: dict[str, str]) -> None:
    compose_dir = root / "docker"
    compose_path = compose_dir / "compose.yaml"
    rel = lambda p: os.path.relpath(p, root)  # noqa: E731
    where_file = rel(compose_path)
    try:
        raw = yaml.safe_load(compose_path.read_text())
    except (OSError, yaml.YAMLError) as error:
        problems.add(where_file, f"cannot be read as YAML: {error}")
        return
    if not isinstance(raw, dict):
        problems.add(where_file, "is not a mapping")
        return
    for key in raw:
        if key not in TOP_LEVEL_KEYS and not str(key).startswith("x-"):
            problems.add(where_file, f"unknown top-level key `{key}`")

    # Interpolation: every ${VAR} has a default or a value in .env.example.
    env_example = read_env_file(compose_dir / ".env.example")
    if not (compose_dir / ".env.example").exists():
        problems.add(where_file, "docker/.env.example is missing")
    # (x-* blocks are templates: what they hold is checked where services merge them.)
    for path, text in walk_strings({k: v for k, v in raw.items() if not str(k).startswith("x-")}):
        for name, op, arg in interpolation_refs(text):
            if op in (":?", "?"):
                if name not in env_example:
                    problems.add(f"{where_file} {path}", f"${{{name}}} is required but docker/.env.example does not set it")
            elif op not in (":-", "-") and name not in env_example:
                problems.add(f"{where_file} {path}", f"${{{name}}} has no default and docker/.env.example does not set it")
    compose = map_strings(raw, lambda s: interpolate(s, values))

    services = compose.get("services")
    raw_services = raw.get("services") or {}
    if not isinstance(services, dict) or not services:
        problems.add(where_file, "`services` must be a non-empty mapping")
        return
    declared_volumes = set((compose.get("volumes") or {}).keys())
    declared_networks = set((compose.get("networks") or {}).keys()) | {"default"}

    dockerfiles: dict[str, Dockerfile] = {}
    health: dict[str, bool] = {}
    lockstep_services: set[str] = set()
    host_ports: dict[tuple[str, int, str], str] = {}
    container_ports: dict[str, set[int]] = {}

    for name, service in services.items():
        where = f"{where_file} services.{name}"
        if not SERVICE_NAME.match(str(name)):
            problems.add(where, "service names are letters, digits, `_`, `.`, `-`")
        if not isinstance(service, dict):
            problems.add(where, "must be a mapping")
            continue
        for key in service:
            if key not in SERVICE_KEYS and not str(key).startswith("x-"):
                problems.add(where, f"unknown key `{key}`")
        if "image" not in service and "build" not in service:
            problems.add(where, "needs `image` or `build`")
        build = service.get("build")
        dockerfile = None
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".") if isinstance(build, dict) else None
            if context is None:
                problems.add(where, "build must be a path or a mapping")
            else:
                context_dir = (compose_dir / context).resolve()
                if not context_dir.is_dir():
                    problems.add(where, f"build context `{context}` does not exist")
                file_name = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
                dockerfile_path = (context_dir / file_name).resolve()
                if not dockerfile_path.is_file():
                    problems.add(where, f"Dockerfile `{file_name}` not found in the build context")
                else:
                    dockerfile = dockerfiles.setdefault(str(dockerfile_path), Dockerfile(dockerfile_path))
                    if context_dir.is_dir():
                        check_copy_sources(dockerfile, context_dir, root, problems)
        image = str(service.get("image", ""))
        is_lockstep_image = (dockerfile is not None and dockerfile.path == (compose_dir / "Dockerfile").resolve()) or \
            image.split(":")[0].endswith("lockstep")
        if is_lockstep_image:
            lockstep_services.add(name)

        # Health check: compose's, else the built image's.
        hc = service.get("healthcheck")
        if hc is not None:
            health[name] = check_healthcheck(hc, where, problems)
        else:
            health[name] = dockerfile is not None and bool(dockerfile.final("HEALTHCHECK"))
        if not health[name]:
            problems.add(where, "has no health check (every service needs one)")
        if is_lockstep_image and hc is not None:
            for argv, exec_form in healthcheck_argvs(hc):
                if not exec_form or not argv or not is_lockstep(argv[0]):
                    problems.add(where, "the lockstep image's health check must be exec form running `lockstep …` "
                                 "(the image has no curl, wget or nc)")

        # Ports.
        for spec in as_list(service.get("ports")):
            parsed = parse_port(spec, where, problems)
            if not parsed:
                continue
            ip, host, container, proto = parsed
            container_ports.setdefault(name, set()).add(container)
            if host is not None:
                key = (ip, host, proto)
                if key in host_ports:
                    problems.add(where, f"host port {host}/{proto} is also published by `{host_ports[key]}`")
                host_ports[key] = name
                replicas = (service.get("deploy") or {}).get("replicas", service.get("scale", 1))
                if isinstance(replicas, int) and replicas > 1:
                    problems.add(where, f"publishes fixed host port {host} but runs {replicas} replicas")
        for spec in as_list(service.get("expose")):
            m = re.match(r"^(\d+)", str(spec))
            if m:
                container_ports.setdefault(name, set()).add(int(m.group(1)))

        # Volumes.
        for volume in as_list(service.get("volumes")):
            if isinstance(volume, dict):
                source, kind = volume.get("source"), volume.get("type", "volume")
            else:
                parts = str(volume).split(":")
                source = parts[0] if len(parts) > 1 else None
                kind = "bind" if source and (source.startswith((".", "/", "~"))) else "volume"
            if not source:
                continue
            if kind == "bind":
                if not source.startswith(("/", "~")) and not (compose_dir / source).exists():
                    problems.add(where, f"bind-mount source `{source}` does not exist (relative to docker/)")
            elif kind == "volume" and source not in declared_volumes:
                problems.add(where, f"named volume `{source}` is not declared under top-level `volumes`")
        nets = service.get("networks")
        for net in (nets.keys() if isinstance(nets, dict) else as_list(nets)):
            if net not in declared_networks:
                problems.add(where, f"network `{net}` is not declared under top-level `networks`")

        if "restart" in service and not RESTART.match(str(service["restart"])):
            problems.add(where, f"restart `{service['restart']}` is not no, always, on-failure[:N] or unless-stopped")
        deploy = service.get("deploy")
        if deploy is not None and not isinstance(deploy, dict):
            problems.add(where, "deploy must be a mapping")
        elif deploy and "replicas" in deploy and (not isinstance(deploy["replicas"], int) or deploy["replicas"] < 0):
            problems.add(where, "deploy.replicas must be a non-negative integer")
        if deploy and deploy.get("replicas", 1) > 1 and "container_name" in service:
            problems.add(where, "container_name cannot be used with more than one replica")
        for key in ("command", "entrypoint"):
            if key in service and argv_of(service[key]) is None:
                problems.add(where, f"{key} must be a string or a list of strings")

        # Credentials only through interpolation, defaulting at most to the seed's demo password.
        raw_service = raw_services.get(name) or {}
        for key, value in environment_of(raw_service).items():
            if value is None:
                continue
            secrets = []
            if CREDENTIAL_KEY.search(key):
                secrets.append(value)
            for m in re.finditer(r"://[^/@\s:]+:([^@\s]+)@", value):
                secrets.append(m.group(1))
            for secret in secrets:
                refs = interpolation_refs(secret)
                if not refs or INTERPOLATION.sub("", secret).strip():
                    problems.add(where, f"environment {key}: a password written into compose.yaml; use ${{VAR}} from docker/.env")
                for var, op, arg in refs:
                    if op in (":-", "-") and arg not in ("", SEED_DEMO_PASSWORD):
                        problems.add(where, f"environment {key}: ${{{var}}} defaults to a secret other than the seed's demo password")

    # depends_on.
    graph: dict[str, list[str]] = {}
    profiled = {n for n, s in services.items() if isinstance(s, dict) and s.get("profiles")}
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        where = f"{where_file} services.{name}.depends_on"
        deps = service.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        if not isinstance(deps, dict):
            problems.add(where, "must be a list or a mapping")
            continue
        graph[name] = list(deps)
        for target, spec in deps.items():
            if target not in services:
                problems.add(where, f"`{target}` is not a service")
                continue
            if target == name:
                problems.add(where, "a service cannot depend on itself")
            if target in profiled and name not in profiled:
                problems.add(where, f"`{target}` only runs in a profile, so `{name}` could not start without it")
            spec = spec or {}
            for key in spec:
                if key not in DEPENDS_ON_KEYS:
                    problems.add(where, f"`{target}`: unknown key `{key}`")
            condition = spec.get("condition", "service_started")
            if condition not in CONDITIONS:
                problems.add(where, f"`{target}`: condition `{condition}` is not one of {', '.join(sorted(CONDITIONS))}")
            if condition == "service_healthy" and not health.get(target):
                problems.add(where, f"`{target}`: condition service_healthy, but `{target}` has no health check")
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            problems.add(where_file, f"depends_on cycle: {' -> '.join(trail[trail.index(node):] + [node])}")
            return
        state[node] = 1
        for nxt in graph.get(node, []):
            if nxt in services:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in graph:
        visit(node, [])

    # Kafka broker(s): KRaft settings and what they advertise.
    advertised: dict[str, set[str]] = {}
    for name, service in services.items():
        if not isinstance(service, dict) or not str(service.get("image", "")).startswith("apache/kafka"):
            continue
        where = f"{where_file} services.{name}"
        env = environment_of(service)
        cluster_id = env.get("CLUSTER_ID")
        if cluster_id:
            try:
                if len(base64.urlsafe_b64decode(cluster_id + "==")) != 16 or len(cluster_id) != 22:
                    raise ValueError
            except ValueError:
                problems.add(where, f"CLUSTER_ID `{cluster_id}` is not a base64 UUID (22 characters; kafka-storage.sh random-uuid)")
        roles = {r.strip() for r in (env.get("KAFKA_PROCESS_ROLES") or "").split(",") if r.strip()}
        if env and roles and "controller" in roles and not env.get("KAFKA_CONTROLLER_QUORUM_VOTERS") and not env.get("KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS"):
            problems.add(where, "KRaft controller without KAFKA_CONTROLLER_QUORUM_VOTERS")
        lst = kafka_listeners(env)
        for listener in list(lst["listeners"]) + list(lst["advertised"]):
            if lst["map"] and listener not in lst["map"]:
                problems.add(where, f"listener `{listener}` is missing from KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
        for listener, address in lst["advertised"].items():
            if listener not in lst["listeners"]:
                problems.add(where, f"advertised listener `{listener}` is not in KAFKA_LISTENERS")
            elif address.split(":")[1] != lst["listeners"][listener].split(":")[1]:
                problems.add(where, f"advertised listener `{listener}` ({address}) and KAFKA_LISTENERS "
                             f"({lst['listeners'][listener]}) disagree on the port")
        controller = env.get("KAFKA_CONTROLLER_LISTENER_NAMES")
        if controller and controller in lst["advertised"]:
            problems.add(where, "the controller listener must not be advertised to clients")
        advertised[name] = set(lst["advertised"].values()) or {"localhost:9092"}
        if env.get("KAFKA_LISTENERS") is None:
            container_ports.setdefault(name, set()).add(9092)

    # Where the Lockstep services point: buses, state stores, connections, service URLs.
    postgres = {n: s for n, s in services.items() if isinstance(s, dict) and str(s.get("image", "")).split(":")[0] in ("postgres", "library/postgres")}
    for name in sorted(lockstep_services):
        service = services[name]
        where = f"{where_file} services.{name}"
        env = environment_of(service)
        depends = set(graph.get(name, []))
        bus = env.get("LOCKSTEP_BUS")
        if bus and bus.startswith("kafka://"):
            for address in bus[len("kafka://"):].split("?")[0].split(","):
                host = address.split(":")[0]
                if host not in services:
                    problems.add(where, f"LOCKSTEP_BUS broker `{address}` is not a service")
                elif host in advertised and address not in advertised[host]:
                    problems.add(where, f"LOCKSTEP_BUS broker `{address}`: `{host}` advertises {', '.join(sorted(advertised[host]))}; "
                                 "clients in other containers would be sent elsewhere")
                elif host not in depends:
                    problems.add(where, f"LOCKSTEP_BUS uses `{host}` but the service does not depend on it")
        for key, value in env.items():
            if not value or not (key == "LOCKSTEP_STATE" or key.startswith("LOCKSTEP_CONN_")):
                continue
            if not value.startswith(("postgresql://", "postgres://")):
                continue
            url = urlsplit(value)
            host, port, db = url.hostname, url.port or 5432, url.path.lstrip("/")
            if host not in services:
                problems.add(where, f"{key}: host `{host}` is not a service")
                continue
            if host in postgres:
                pg_env = environment_of(postgres[host])
                if port != int(pg_env.get("PGPORT") or 5432):
                    problems.add(where, f"{key}: `{host}` listens on {pg_env.get('PGPORT') or 5432} in its container, not {port}")
                known_dbs = {(pg_env.get("POSTGRES_DB") or pg_env.get("POSTGRES_USER") or "postgres").lower(), "postgres"} | \
                    initdb_databases(postgres[host], compose_dir)
                if db.lower() not in known_dbs:
                    problems.add(where, f"{key}: database `{db}` is neither POSTGRES_DB of `{host}` nor created by its init scripts")
                if url.username == (pg_env.get("POSTGRES_USER") or "postgres") and url.password != pg_env.get("POSTGRES_PASSWORD"):
                    problems.add(where, f"{key}: the password differs from `{host}`'s POSTGRES_PASSWORD")
            if key == "LOCKSTEP_STATE" and host not in depends:
                problems.add(where, f"LOCKSTEP_STATE uses `{host}` but the service does not depend on it")
        for key, value in env.items():
            if key.startswith("LOCKSTEP_VAR_") and value and re.match(r"^https?://", value):
                url = urlsplit(value)
                if url.hostname in services:
                    port = url.port or (443 if url.scheme == "https" else 80)
                    if port not in container_ports.get(url.hostname, set()):
                        problems.add(where, f"{key}: `{url.hostname}` neither publishes nor exposes port {port}")
                elif url.hostname not in ("localhost", "127.0.0.1", "host.docker.internal"):
                    problems.add(where, f"{key}: `{url.hostname}` is not a service")

        # The lockstep argv: entrypoint + command (the image's when the service does not set them).
        dockerfile = dockerfiles.get(str((compose_dir / "Dockerfile").resolve()))
        entrypoint = argv_of(service.get("entrypoint"))
        command = argv_of(service.get("command"))
        if dockerfile is not None:
            if entrypoint is None:
                found = dockerfile.final("ENTRYPOINT")
                entrypoint = exec_or_shell(found[-1][1])[0] if found else []
            if command is None and "entrypoint" not in service:
                found = dockerfile.final("CMD")
                command = exec_or_shell(found[-1][1])[0] if found else []
        argv = (entrypoint or []) + (command or [])
        if argv and is_lockstep(argv[0]):
            cli.check(argv[1:], f"{where}.command", problems)
        elif argv:
            problems.add(f"{where}.command", f"runs `{argv[0]}`, not lockstep")
        for hc_argv, _ in healthcheck_argvs(service.get("healthcheck")):
            if hc_argv and is_lockstep(hc_argv[0]):
                cli.check(hc_argv[1:], f"{where}.healthcheck", problems)
        for key, value in env.items():
            if key.startswith("LOCKSTEP_"):
                names.check(key, value, f"{where}.environment", problems)

    check_readme(root, lockstep_services, services, cli, problems)


def check_copy_sources(dockerfile: Dockerfile, context: Path, root: Path, problems: Problems) -> None:
    """COPY/ADD sources (not --from another stage) exist in the build context."""
    for number, keyword, rest, _ in dockerfile.instructions:
        if keyword not in ("COPY", "ADD") or rest.lstrip().startswith("["):
            continue
        words = shlex.split(rest)
        tokens = [t for t in words if not t.startswith("--")]
        if any(t.startswith("--from") for t in words) or len(tokens) < 2:
            continue
        for source in tokens[:-1]:
            if not source.startswith(("http://", "https://")) and not any(context.glob(source)):
                problems.add(f"{os.path.relpath(dockerfile.path, root)}:{number}",
                             f"{keyword} source `{source}` does not exist in the build context `{os.path.relpath(context, root)}`")


def check_dockerfile(root: Path, cli: CLI, names: CodeNames, problems: Problems) -> None:
    path = root / "docker" / "Dockerfile"
    where = os.path.relpath(path, root)
    if not path.is_file():
        problems.add(where, "is missing")
        return
    dockerfile = Dockerfile(path)
    froms = [(n, r) for n, k, r, _ in dockerfile.instructions if k == "FROM"]
    if len(froms) < 2:
        problems.add(where, "should be multi-stage (a Swift build stage and a slim runtime stage)")
    check_copy_sources(dockerfile, root, root, problems)
    # The build stage copies every folder the manifest's targets live in (else the manifest fails to load).
    manifest = (root / "Package.swift").read_text() if (root / "Package.swift").is_file() else ""
    needed = {"Package.swift", "Sources"} | {p.split("/")[0] for p in re.findall(r'\bpath:\s*"([^"]+)"', manifest)}
    if ".testTarget(" in manifest:
        needed.add("Tests")
    copied = set()
    for _, keyword, rest, stage in dockerfile.instructions:
        if keyword == "COPY" and stage == 0 and "--from" not in rest:
            copied.update(t.rstrip("/").split("/")[0] for t in shlex.split(rest)[:-1] if not t.startswith("--"))
    for item in sorted(needed - copied):
        problems.add(where, f"the build stage does not COPY `{item}`, which Package.swift needs")
    for number, keyword, rest, stage in dockerfile.instructions:
        line = f"{where}:{number}"
        if keyword == "RUN":
            script = re.sub(r"^(--[a-z-]+=\S+\s+)+", "", rest)
            for argv in shell_commands(script):
                if is_lockstep(argv[0]):
                    cli.check(argv[1:], line, problems)
        if keyword == "HEALTHCHECK" and stage == dockerfile.final_stage:
            _, command = split_healthcheck(rest)
            if command.upper().startswith("NONE"):
                continue
            if not command.upper().startswith("CMD"):
                problems.add(line, "HEALTHCHECK must be `HEALTHCHECK [options] CMD …`")
                continue
            argv, script = exec_or_shell(command[3:])
            if argv is None:
                problems.add(line, "HEALTHCHECK in shell form needs /bin/sh and whatever it calls; use exec form [\"lockstep\", …]")
                for sub in shell_commands(script or ""):
                    if is_lockstep(sub[0]):
                        cli.check(sub[1:], line, problems)
            elif not argv or not is_lockstep(argv[0]):
                problems.add(line, f"HEALTHCHECK runs `{argv[0] if argv else ''}`: the runtime image only promises `lockstep`")
            else:
                cli.check(argv[1:], line, problems)
    final_users = dockerfile.final("USER")
    if not final_users or final_users[-1][1].split(":")[0] in ("root", "0"):
        problems.add(where, "the runtime stage must switch to a non-root USER")
    if not dockerfile.final("HEALTHCHECK"):
        problems.add(where, "the runtime stage has no HEALTHCHECK")
    entry = dockerfile.final("ENTRYPOINT")
    entry_argv = exec_or_shell(entry[-1][1])[0] if entry else None
    if not entry_argv or not is_lockstep(entry_argv[0]):
        problems.add(where, 'the runtime stage needs ENTRYPOINT ["lockstep"] (exec form)')
    else:
        cmd = dockerfile.final("CMD")
        cmd_argv = (exec_or_shell(cmd[-1][1])[0] or []) if cmd else []
        cli.check(entry_argv[1:] + cmd_argv, f"{where} ENTRYPOINT + CMD", problems)
    for name in dockerfile.env_names():
        if name.startswith("LOCKSTEP_"):
            names.check(name, None, f"{where} ENV", problems)


def check_readme(root: Path, lockstep_services: set[str], services: dict, cli: CLI, problems: Problems) -> None:
    """`docker compose … run --rm SERVICE ARGS`, `… exec SERVICE lockstep ARGS` and `lockstep ARGS` lines in code blocks."""
    path = root / "docker" / "README.md"
    if not path.is_file():
        problems.add("docker/README.md", "is missing")
        return
    in_code = False
    pending, start = "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            in_code, pending = not in_code, ""
            continue
        if not in_code:
            continue
        if line.rstrip().endswith("\\"):  # a command continued on the next line
            start = start if pending else number
            pending += line.rstrip()[:-1] + " "
            continue
        if pending:
            line, number, pending = pending + line, start, ""
        where = f"docker/README.md:{number}"
        for argv in shell_commands(line):
            if argv[0] == "docker" and "compose" in argv:
                rest = argv[argv.index("compose") + 1:]
                while rest and rest[0].startswith("-"):  # compose's own options: -f FILE, -p NAME, --profile P
                    rest = rest[2:] if rest[0] in ("-f", "--file", "-p", "--project-name", "--profile", "--env-file") else rest[1:]
                if not rest or rest[0] not in ("run", "exec"):
                    continue
                verb, rest = rest[0], rest[1:]
                while rest and rest[0].startswith("-"):
                    rest = rest[2:] if rest[0] in ("-e", "--env", "--name", "-u", "--user", "-w", "--workdir", "--entrypoint") else rest[1:]
                if not rest:
                    continue
                service, args = rest[0], rest[1:]
                if service not in services:
                    problems.add(where, f"`docker compose {verb} {service}`: no such service in compose.yaml")
                elif service in lockstep_services:
                    if verb == "exec" or (args and is_lockstep(args[0])):
                        if args and is_lockstep(args[0]):
                            cli.check(args[1:], where, problems)
                    elif args:
                        cli.check(args, where, problems)
            elif is_lockstep(argv[0]):
                cli.check(argv[1:], where, problems)


def check_names_in_text(root: Path, names: CodeNames, problems: Problems) -> None:
    """Every LOCKSTEP_* written anywhere in docker/ (comments, README, .env.example) exists too."""
    for path in sorted((root / "docker").rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if path.name == "compose.yaml" and re.match(r"^\s*-?\s*LOCKSTEP_[A-Z0-9_]+\s*[:=]", line):
                continue  # an environment entry: checked with its value, per service
            for name in LOCKSTEP_NAME.findall(line):
                names.check(name, None, f"{os.path.relpath(path, root)}:{number}", problems)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", type=Path, help="a built lockstep executable")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()
    root = args.root.resolve()
    problems = Problems()
    if not os.access(args.binary, os.X_OK):
        print(f"check-docker: {args.binary} is not an executable lockstep binary", file=sys.stderr)
        return 2
    cli = CLI(args.binary.resolve())
    names = CodeNames(root)
    check_dockerfile(root, cli, names, problems)
    check_compose(root, cli, names, problems)
    check_names_in_text(root, names, problems)
    unique = problems.lines()
    if unique:
        print(f"check-docker: {len(unique)} problem(s)", file=sys.stderr)
        for item in unique:
            print(f"  - {item}", file=sys.stderr)
        return 1
    kafka = "librdkafka" if names.kafka.lib is not None else "name shape only"
    print(f"check-docker: ok ({len(cli.cache)} lockstep help pages consulted; Kafka properties checked by {kafka})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
