"""Validates graph JSON files against docs/graph-format.schema.json.

Usage: validate_schema.py SCHEMA DIR
Every DIR/*.json must validate, except files named invalid_*.json, which must
not. Needs the `jsonschema` package (exit code 77 when it is missing).
"""
import json
import pathlib
import sys

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed")
    sys.exit(77)


def main():
    schema = json.loads(pathlib.Path(sys.argv[1]).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(pathlib.Path(sys.argv[2]).glob("*.json"))
    wrong = 0
    for path in files:
        errors = list(validator.iter_errors(json.loads(path.read_text())))
        expect_invalid = path.name.startswith("invalid_")
        if expect_invalid and not errors:
            print(f"{path.name}: expected schema errors, got none")
            wrong += 1
        elif not expect_invalid and errors:
            best = jsonschema.exceptions.best_match(errors)
            print(f"{path.name}: {best.message} at {list(best.absolute_path)}")
            wrong += 1
    print(f"{len(files)} files checked, {wrong} wrong")
    return 1 if wrong or not files else 0


if __name__ == "__main__":
    sys.exit(main())
