"""Checks api/openapi.yaml against the server (used by Tests/LockstepHTTPTests/OpenAPITests.swift).

  python3 api/check_openapi.py routes            prints the document's operations as JSON
  python3 api/check_openapi.py validate < x.json  checks recorded responses against the schemas

Responses are a JSON list of {"method", "route", "status", "content_type", "body"}; each must have
a documented status for its route and method, and a body valid against that response's schema.
"""
import json
import sys

import jsonschema
import yaml

METHODS = ("get", "put", "post", "patch", "delete")


def load(path="api/openapi.yaml"):
    with open(path) as f:
        doc = yaml.safe_load(f)
    assert doc.get("openapi", "").startswith("3.1"), "openapi must be 3.1.x"
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
    return doc


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def routes(doc):
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                op = item[method]
                assert "responses" in op, f"{method.upper()} {path} has no responses"
                out.append({"method": method.upper(), "path": path, "role": op.get("x-lockstep-role")})
    return out


def validate(doc, exchanges):
    errors = []
    for e in exchanges:
        where = f"{e['method']} {e['route']} -> {e['status']}"
        op = doc["paths"].get(e["route"], {}).get(e["method"].lower())
        if op is None:
            errors.append(f"{where}: not in the document")
            continue
        response = op["responses"].get(str(e["status"])) or op["responses"].get("default")
        if response is None:
            errors.append(f"{where}: status not documented")
            continue
        response = resolve(doc, response)
        content = response.get("content")
        if not content:
            if e["body"]:
                errors.append(f"{where}: documented without a body, got one")
            continue
        media = e["content_type"].split(";")[0].strip()
        if media not in content:
            errors.append(f"{where}: content type {media} not documented ({', '.join(content)})")
            continue
        schema = resolve(doc, content[media].get("schema", {}))
        if media.endswith("json"):
            root = dict(schema)
            root["components"] = doc["components"]
            try:
                jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(json.loads(e["body"]))
            except jsonschema.ValidationError as err:
                path = "/".join(str(p) for p in err.absolute_path)
                errors.append(f"{where}: at /{path}: {err.message}")
    return errors


if __name__ == "__main__":
    doc = load()
    if sys.argv[1:] == ["routes"]:
        print(json.dumps(routes(doc)))
    elif sys.argv[1:] == ["validate"]:
        exchanges = json.load(sys.stdin)
        errors = validate(doc, exchanges)
        for error in errors:
            print(error)
        print(f"{len(exchanges)} responses checked, {len(errors)} not as documented", file=sys.stderr)
        sys.exit(1 if errors else 0)
    else:
        sys.exit(__doc__)
