#!/usr/bin/env python3
"""Sums test cases from meson's logs and prints 'N passed, N failed'.

Cases come from the JUnit log (gtest cases appear one by one). A suite that crashed or
timed out without a failing case on record counts as one more failure, so a crash can
never read as a pass. Skipped cases are printed apart and count as neither.
Usage: count-tests.py BUILD_DIR/meson-logs
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

logs = sys.argv[1]
passed = failed = skipped = 0
failing_suites = set()
root = ET.parse(os.path.join(logs, "testlog.junit.xml")).getroot()
for suite in root.iter("testsuite"):
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            # gtest suites are named "project.test"; other tests are one case named "test".
            failing_suites.add(suite.get("name", "").split(".")[1] if "." in suite.get("name", "") else "")
            failing_suites.add(case.get("name", ""))
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1

with open(os.path.join(logs, "testlog.json")) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        t = json.loads(line)
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and t.get("name") not in failing_suites:
            print(f"suite {t.get('name')} ended {t.get('result')} without a failing case on record")
            failed += 1

if skipped:
    print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
