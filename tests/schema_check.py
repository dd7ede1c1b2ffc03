#!/usr/bin/python3
"""Validates lock images against the JSON Schema.

    /usr/bin/python3 tests/schema_check.py SCHEMA IMAGE...

Exit 0 if every image is valid; else one line per error ("IMAGE: /json/pointer: message") and
exit 1; exit 2 on bad usage or an invalid schema. Needs Debian's python3-jsonschema (>= 4, for
draft 2020-12): run it with /usr/bin/python3, not a pyenv python.
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("schema_check: python3-jsonschema is missing (apt-get install python3-jsonschema)")


def pointer(path):
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        schema = load(argv[1])
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as error:
        print(f"{argv[1]}: invalid schema: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    failed = False
    for path in argv[2:]:
        try:
            image = load(path)
        except (OSError, ValueError) as error:
            print(f"{path}: {error}")
            failed = True
            continue
        errors = validator.iter_errors(image)
        for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
            print(f"{path}: {pointer(error.absolute_path)}: {error.message}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
