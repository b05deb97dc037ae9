#!/usr/bin/env python3
"""Validates every example in Protocol/examples against its JSON Schema in Protocol/schemas.

An example's schema is chosen by the longest schema name its file name starts with
(command-result-refused.json -> command-result.schema.json). Needs the `jsonschema` package
(Debian: python3-jsonschema; PyPI: jsonschema >= 4.18). Exit 0 when every example conforms.
"""
import json
import pathlib
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:
    sys.exit("check_schemas: the Python packages 'jsonschema' and 'referencing' are required")

here = pathlib.Path(__file__).resolve().parent.parent
schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in (here / "schemas").glob("*.schema.json")}
registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
failures = 0
examples = sorted((here / "examples").glob("*.json"))
for path in examples:
    names = [n for n in schemas if n != "common" and path.name.startswith(n)]
    if not names:
        print(f"{path.name}: no schema matches this file name")
        failures += 1
        continue
    name = max(names, key=len)
    validator = jsonschema.Draft202012Validator(schemas[name], registry=registry, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=lambda e: list(e.path))
    for error in errors:
        print(f"{path.name} ({name}): {'/'.join(map(str, error.path)) or '(root)'}: {error.message}")
    failures += len(errors)
for name, schema in schemas.items():
    jsonschema.Draft202012Validator.check_schema(schema)
print(f"check_schemas: {len(examples)} examples, {failures} problems")
sys.exit(1 if failures else 0)
