#!/usr/bin/env python3
"""docs/reference must be what tools/gen-element-docs.py writes for the built plugin.

Usage: check_element_docs.py PLUGIN.so COMMITTED_DIR. Regenerates the pages into a
temporary folder and fails, printing the differences and the refresh command, when a page
is missing, stale or different.
"""

import difflib
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
GENERATOR = HERE.parent.parent / "tools" / "gen-element-docs.py"
REFRESH = "/usr/bin/python3 tools/gen-element-docs.py build/gst/libgstsam3.so docs/reference"


def main():
    plugin, committed = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp)
        subprocess.run([sys.executable, str(GENERATOR), str(plugin), str(fresh)], check=True)
        expected = {p.name: p.read_text(encoding="utf-8") for p in fresh.glob("*.md")}
    actual = {p.name: p.read_text(encoding="utf-8") for p in committed.glob("*.md")}

    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            problems.append(f"docs/reference/{name} is missing")
        elif name not in expected:
            problems.append(f"docs/reference/{name} documents an element the plugin lacks")
        elif actual[name] != expected[name]:
            diff = difflib.unified_diff(
                actual[name].splitlines(keepends=True), expected[name].splitlines(keepends=True),
                f"committed/{name}", f"generated/{name}")
            problems.append("".join(diff))
    if problems:
        print("\n".join(problems))
        print(f"\nThe element reference is out of date. Refresh it with:\n    {REFRESH}")
        sys.exit(1)
    print(f"docs/reference matches the plugin ({len(expected)} pages)")


if __name__ == "__main__":
    main()
