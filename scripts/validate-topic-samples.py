#!/usr/bin/env python3
"""Validates the topic catalog and real events against it.

    python3 scripts/validate-topic-samples.py .build/topic-samples

1. topics/asyncapi.yaml parses (PyYAML), every `$ref` in it resolves (local `#/...` pointers inside the
   document, relative file references to existing JSON files), every schema under topics/schemas is a
   valid draft 2020-12 schema and has a message in the document.
2. Every sample DIR/<type>/<n>.json (structured-mode CloudEvents written by
   Tests/LockstepServicesTests/TopicCatalogSampleTests.swift) matches topics/schemas/cloudevent.json
   (the envelope) and topics/schemas/<type>.json (its `data`), with format checking (date-time, ...).
3. With DIR/manifest.json (topic, key and partition of each sample): the sample's topic is a channel
   in asyncapi.yaml that carries a message of the sample's type, and the record key is what the
   channel's `x-lockstep-key` says.

Prints one summary line; exits 1 naming each file and error on any failure.
"""
import json
import os
import sys

try:
    import yaml
    from jsonschema import Draft202012Validator
except ImportError as error:  # pragma: no cover
    sys.exit(f"validate-topic-samples: needs PyYAML and jsonschema ({error}); pip install pyyaml jsonschema")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPICS = os.path.join(ROOT, "topics")
SCHEMAS = os.path.join(TOPICS, "schemas")
ASYNCAPI = os.path.join(TOPICS, "asyncapi.yaml")
ENVELOPE = "cloudevent.json"


def rel(path):
    return os.path.relpath(path, os.getcwd())


def pointer(document, fragment):
    """Resolves a JSON pointer (`/a/b`) in a loaded document; raises KeyError when it does not exist."""
    node = document
    if fragment in ("", "/"):
        return node
    for part in fragment.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return node


def refs(node, path="$"):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from refs(value, f"{path}[{index}]")


def load_schemas(errors):
    schemas = {}
    for name in sorted(os.listdir(SCHEMAS)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(SCHEMAS, name)
        try:
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
        except Exception as error:  # noqa: BLE001 - report any problem with the file
            errors.append(f"{rel(path)}: not a valid draft 2020-12 schema: {first_line(error)}")
            continue
        schemas[name[: -len(".json")]] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    if ENVELOPE[: -len(".json")] not in schemas:
        errors.append(f"{rel(os.path.join(SCHEMAS, ENVELOPE))}: missing")
    return schemas


def check_asyncapi(schemas, errors):
    """Returns {topic: {"types": set, "key": [pointers] or None}} from the document."""
    try:
        with open(ASYNCAPI, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except Exception as error:  # noqa: BLE001
        errors.append(f"{rel(ASYNCAPI)}: does not parse: {first_line(error)}")
        return {}
    if not isinstance(doc, dict) or not str(doc.get("asyncapi", "")).startswith("3."):
        errors.append(f"{rel(ASYNCAPI)}: not an AsyncAPI 3 document")
        return {}
    for where, ref in refs(doc):
        target, _, fragment = ref.partition("#")
        if target:
            path = os.path.normpath(os.path.join(TOPICS, target))
            if not os.path.isfile(path):
                errors.append(f"{rel(ASYNCAPI)}: {where}: $ref {ref} names a file that does not exist ({rel(path)})")
                continue
            if fragment:
                try:
                    with open(path, encoding="utf-8") as f:
                        pointer(json.load(f), fragment)
                except (KeyError, ValueError, IndexError):
                    errors.append(f"{rel(ASYNCAPI)}: {where}: $ref {ref}: no {fragment} in {rel(path)}")
        else:
            try:
                pointer(doc, fragment)
            except (KeyError, ValueError, IndexError):
                errors.append(f"{rel(ASYNCAPI)}: {where}: $ref {ref} points at nothing in the document")

    messages = doc.get("components", {}).get("messages", {})
    message_types = {}
    for name, message in messages.items():
        payload = (message.get("payload") or {}).get("$ref", "")
        event_type = message.get("name")
        message_types[name] = event_type
        if payload != f"./schemas/{event_type}.json":
            errors.append(f"{rel(ASYNCAPI)}: message {name} ({event_type}): payload $ref should be ./schemas/{event_type}.json, is {payload or 'missing'}")
    documented = set(message_types.values())
    for event_type in sorted(set(schemas) - {ENVELOPE[: -len(".json")]} - documented):
        errors.append(f"{rel(ASYNCAPI)}: no message for schemas/{event_type}.json")

    channels = {}
    for cid, channel in (doc.get("channels") or {}).items():
        address = channel.get("address")
        types = set()
        for ref in (channel.get("messages") or {}).values():
            name = ref.get("$ref", "").rsplit("/", 1)[-1]
            types.add(message_types.get(name))
        key = (channel.get("x-lockstep-key") or {}).get("equals-one-of")
        binding = (channel.get("bindings") or {}).get("kafka") or {}
        if binding.get("topic") not in (None, address):
            errors.append(f"{rel(ASYNCAPI)}: channel {cid}: kafka binding topic {binding.get('topic')} differs from address {address}")
        channels[address] = {"types": types, "key": key}
    for op_id, operation in (doc.get("operations") or {}).items():
        if operation.get("action") not in ("send", "receive"):
            errors.append(f"{rel(ASYNCAPI)}: operation {op_id}: action must be send or receive")
    return channels


def first_line(error):
    text = getattr(error, "message", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


def describe(error):
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{'at /' + where + ': ' if where else ''}{first_line(error)}"


def check_samples(directory, schemas, channels, errors):
    envelope = schemas.get(ENVELOPE[: -len(".json")])
    manifest = {}
    manifest_path = os.path.join(directory, "manifest.json")
    if os.path.isfile(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            for entry in json.load(f).get("samples", []):
                manifest[entry["file"]] = entry
    checked = 0
    types = set()
    for event_type in sorted(os.listdir(directory)):
        folder = os.path.join(directory, event_type)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder), key=lambda n: (len(n), n)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(folder, name)
            checked += 1
            types.add(event_type)
            try:
                with open(path, encoding="utf-8") as f:
                    event = json.load(f)
            except ValueError as error:
                errors.append(f"{rel(path)}: not JSON: {error}")
                continue
            if envelope is not None:
                for error in sorted(envelope.iter_errors(event), key=lambda e: list(e.absolute_path)):
                    errors.append(f"{rel(path)}: envelope ({ENVELOPE}): {describe(error)}")
            if event.get("type") != event_type:
                errors.append(f"{rel(path)}: type {event.get('type')!r} but filed under {event_type}/")
            data_schema = schemas.get(event_type)
            if data_schema is None:
                errors.append(f"{rel(path)}: no schema topics/schemas/{event_type}.json for this event type")
            else:
                for error in sorted(data_schema.iter_errors(event.get("data")), key=lambda e: list(e.absolute_path)):
                    errors.append(f"{rel(path)}: data ({event_type}.json): {describe(error)}")
            entry = manifest.get(f"{event_type}/{name}")
            if entry and channels:
                check_placement(path, event, event_type, entry, channels, errors)
    return checked, types


def check_placement(path, event, event_type, entry, channels, errors):
    topic = entry.get("topic")
    channel = channels.get(topic)
    if channel is None:
        errors.append(f"{rel(path)}: published on {topic}, which asyncapi.yaml has no channel for")
        return
    if event_type not in channel["types"]:
        errors.append(f"{rel(path)}: {event_type} published on {topic}, but that channel in asyncapi.yaml does not list it")
    if channel["key"]:
        wanted = []
        for ptr in channel["key"]:
            try:
                wanted.append(pointer(event, ptr))
            except (KeyError, ValueError, IndexError):
                pass
        if entry.get("key") not in wanted:
            errors.append(f"{rel(path)}: key {entry.get('key')!r} on {topic} is none of {channel['key']} ({wanted})")


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} SAMPLES_DIR")
    directory = argv[1]
    if not os.path.isdir(directory):
        sys.exit(f"validate-topic-samples: {directory} is not a directory")
    errors = []
    schemas = load_schemas(errors)
    channels = check_asyncapi(schemas, errors)
    checked, types = check_samples(directory, schemas, channels, errors)
    if checked == 0:
        errors.append(f"{directory}: no samples (<type>/<n>.json)")
    for error in errors:
        print(f"FAIL {error}", file=sys.stderr)
    status = "FAILED" if errors else "ok"
    print(f"topic samples: {checked} events of {len(types)} types checked against {len(schemas)} schemas and "
          f"{len(channels)} channels in topics/asyncapi.yaml: {status}" + (f" ({len(errors)} problems)" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
