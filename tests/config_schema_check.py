#!/usr/bin/python3
"""Checks schema/lockcr-config.schema.json against what lockcr itself accepts.

    /usr/bin/python3 tests/config_schema_check.py SOURCE_DIR LOCKCR_BINARY

- examples/lockcr.yaml is valid against the schema, and `lockcr setup --check` accepts it too (a
  temporary root holding it as etc/lockcr/lockcr.yaml: its "ok:" line for the file);
- the schema's keys are exactly the keys of hook/config/config.cpp's table;
- hostile files (unknown key, bad values, a list) are refused by the schema and by lockcr.
Needs Debian's python3-jsonschema (>= 4, draft 2020-12) and python3-yaml. Exit 0 on success.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml


def lockcr_verdict(binary, text):
    """lockcr's own finding for TEXT as /etc/lockcr/lockcr.yaml: the "ok:"/"error:" line."""
    with tempfile.TemporaryDirectory(prefix="lockcr-test-schema-") as root:
        os.makedirs(os.path.join(root, "etc/lockcr"))
        with open(os.path.join(root, "etc/lockcr/lockcr.yaml"), "w", encoding="utf-8") as file:
            file.write(text)
        result = subprocess.run([binary, "setup", "--check", "--root", root, "--criu", "/bin/true"],
                                capture_output=True, text=True, check=False)
        lines = [line for line in result.stdout.splitlines() if "lockcr.yaml" in line]
        assert len(lines) == 1, result.stdout
        return lines[0]


def main(source, binary):
    with open(os.path.join(source, "schema/lockcr-config.schema.json"), encoding="utf-8") as file:
        schema = json.load(file)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = []

    with open(os.path.join(source, "examples/lockcr.yaml"), encoding="utf-8") as file:
        example = file.read()
    for error in validator.iter_errors(yaml.safe_load(example)):
        failures.append(f"examples/lockcr.yaml: /{'/'.join(map(str, error.path))}: {error.message}")
    verdict = lockcr_verdict(binary, example)
    if not verdict.startswith("ok:"):
        failures.append(f"lockcr refuses examples/lockcr.yaml: {verdict}")

    with open(os.path.join(source, "hook/config/config.cpp"), encoding="utf-8") as file:
        table = set(re.findall(r'\{"([a-z-]+)",\s*\[\]\(Policies& p', file.read()))
    if table != set(schema["properties"]):
        failures.append(f"schema keys {sorted(schema['properties'])} != config.cpp keys {sorted(table)}")

    hostile = {
        "unknown key": "conflicts: wait\n",
        "bad choice": "on-failure: pause\n",
        "bad boolean": "enabled: maybe\n",
        "relative path": "snapshot-store: relative\n",
        "unknown export": "snapshot-export: all\n",
        "list value": "conflict:\n  - fail\n",
        "negative wait": "conflict-wait: -1\n",
    }
    for name, text in hostile.items():
        if validator.is_valid(yaml.safe_load(text)):
            failures.append(f"{name}: the schema accepts {text!r}")
        verdict = lockcr_verdict(binary, text)
        if not verdict.startswith("error:"):
            failures.append(f"{name}: lockcr accepts {text!r}: {verdict}")

    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.exit(main(sys.argv[1], sys.argv[2]))
