#!/usr/bin/env python3
"""sam3export never leaves a torn line: gst-launch-1.0 pipelines writing JSON Lines are
killed with SIGKILL at random moments, and every line of what they leave must be a whole
gst-sam3/1 document, the frames numbered 0, 1, 2, ... without a gap.

Two kinds of lines: small ones at thousands of frames per second (frames without results,
so nearly every kill lands in the middle of writing), and lines of several kilobytes, larger
than a page, with masks of every instance a tiny random model finds (threshold=0), written
with sync-every-frame=true. With stdio's buffering (what sam3export used before), the first
kind leaves a cut line behind on almost every kill.

Environment (set by tests/meson.build): SAM3_BUILD_ROOT (sam3-make-test-model),
GST_PLUGIN_PATH_1_0 and GST_REGISTRY_1_0.
"""

import json
import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ["SAM3_BUILD_ROOT"]


def kill_while_writing(launch, path, rng, min_bytes):
    """Runs the pipeline until `path` has min_bytes, lets it write on for a random moment,
    SIGKILLs it and returns what it left."""
    if os.path.exists(path):
        os.remove(path)
    process = subprocess.Popen(["gst-launch-1.0", "-q"] + launch, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(path) or os.path.getsize(path) < min_bytes:
            if process.poll() is not None:
                raise AssertionError("the pipeline ended: " + process.stderr.read().decode())
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not grow to {min_bytes} bytes in 60 s")
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.5))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    with open(path, "rb") as f:
        return f.read()


class KilledExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "tiny")
        subprocess.run([os.path.join(BUILD, "tools", "sam3-make-test-model"), "--preset", "tiny",
                        cls.model], check=True, capture_output=True)
        cls.rng = random.Random(int(os.environ.get("SAM3_KILL_SEED", time.time_ns())))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_whole_lines(self, data, what):
        self.assertTrue(data.endswith(b"\n"), f"{what}: the file ends inside a line: "
                        f"...{data[-80:]!r}")
        numbers = []
        for i, line in enumerate(data.split(b"\n")[:-1]):
            try:
                doc = json.loads(line)
            except ValueError:
                self.fail(f"{what}: line {i} is not JSON: {line[:80]!r}...{line[-80:]!r}")
            self.assertEqual(doc["schema"], "gst-sam3/1")
            numbers.append(doc["frame"]["number"])
        self.assertEqual(numbers, list(range(len(numbers))), what)
        return len(numbers)

    def test_small_lines_at_full_speed(self):
        path = os.path.join(self.tmp.name, "small.jsonl")
        for run in range(8):
            data = kill_while_writing(
                ["videotestsrc", "!", "video/x-raw,width=32,height=24", "!", "sam3export",
                 f"location={path}", "!", "fakesink"], path, self.rng, 64 * 1024)
            lines = self.check_whole_lines(data, f"kill {run}")
            print(f"kill {run}: {lines} whole lines, {len(data)} bytes")

    def test_large_lines_synced_every_frame(self):
        path = os.path.join(self.tmp.name, "large.jsonl")
        for run in range(3):
            data = kill_while_writing(
                ["videotestsrc", "!", "video/x-raw,width=160,height=120", "!", "sam3detect",
                 f"model={self.model}", "prompt=thing", "threshold=0", "!", "sam3export",
                 f"location={path}", "masks=true", "sync-every-frame=true", "!", "fakesink"],
                path, self.rng, 1)
            lines = self.check_whole_lines(data, f"kill {run}")
            longest = max(len(line) for line in data.split(b"\n"))
            self.assertGreater(longest, 4096, "the lines should span pages")
            print(f"kill {run}: {lines} whole lines, {len(data)} bytes, longest {longest}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
