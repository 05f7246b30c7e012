#!/usr/bin/env python3
"""sam3export hands the kernel each JSON line whole, with one write(2).

Two ways of interrupting gst-launch-1.0 pipelines that write JSON Lines at random moments:

- SIGSTOP: the process stops between two system calls, so what a reader sees then is what
  sam3export had written so far. Every line must be a whole gst-sam3/1 document, the frames
  numbered 0, 1, 2, ... without a gap. With stdio's buffering (what sam3export used before)
  the file ends inside a line on nearly every stop.
- SIGKILL: Linux stops a write to a regular file between two pages when the process gets a
  fatal signal, so a kill landing while the kernel copies a line that straddles a page
  boundary leaves that line cut at the boundary. Every line before it must be whole; the file
  may end inside a line only at a page boundary, and only rarely (stdio cut 7 of 8 kills).

Two kinds of lines: small ones at thousands of frames per second (frames without results,
so nearly every interruption lands in the middle of writing), and lines of several kilobytes,
larger than a page, with masks of every instance a tiny random model finds (threshold=0),
written with sync-every-frame=true.

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
PAGE = os.sysconf("SC_PAGE_SIZE")


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Writer:
    """A gst-launch-1.0 pipeline writing `path`, started and waited for until the file has
    min_bytes."""

    def __init__(self, launch, path, min_bytes):
        if os.path.exists(path):
            os.remove(path)
        self.process = subprocess.Popen(["gst-launch-1.0", "-q"] + launch,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not os.path.exists(path) or os.path.getsize(path) < min_bytes:
            if self.process.poll() is not None:
                self.kill()
                raise AssertionError("the pipeline ended: " + self.process.stderr.read().decode())
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{path} did not grow to {min_bytes} bytes in 60 s")
            time.sleep(0.01)

    def stop(self):
        """SIGSTOP, then waits until every thread has stopped: one inside write(2) stops
        only once the write returns."""
        self.process.send_signal(signal.SIGSTOP)
        tasks = f"/proc/{self.process.pid}/task"
        deadline = time.monotonic() + 10
        while True:
            states = []
            for task in os.listdir(tasks):
                try:
                    with open(f"{tasks}/{task}/stat") as f:
                        states.append(f.read().rpartition(")")[2].split()[0])
                except FileNotFoundError:
                    pass
            if all(state in "Tt" for state in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the pipeline did not stop: thread states {states}")
            time.sleep(0.001)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process.stderr.close()


class InterruptedExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "tiny")
        subprocess.run([os.path.join(BUILD, "tools", "sam3-make-test-model"), "--preset", "tiny",
                        cls.model], check=True, capture_output=True)
        seed = int(os.environ.get("SAM3_KILL_SEED", time.time_ns()))
        print(f"SAM3_KILL_SEED={seed}")
        cls.rng = random.Random(seed)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def small_lines(self, path):
        return ["videotestsrc", "!", "video/x-raw,width=32,height=24", "!", "sam3export",
                f"location={path}", "!", "fakesink"]

    def large_lines(self, path):
        return ["videotestsrc", "!", "video/x-raw,width=160,height=120", "!", "sam3detect",
                f"model={self.model}", "prompt=thing", "threshold=0", "!", "sam3export",
                f"location={path}", "masks=true", "sync-every-frame=true", "!", "fakesink"]

    def check_lines(self, lines, what):
        """Every element of `lines` is a whole gst-sam3/1 document, numbered from 0."""
        numbers = []
        for i, line in enumerate(lines):
            try:
                doc = json.loads(line)
            except ValueError:
                self.fail(f"{what}: line {i} is not JSON: {line[:80]!r}...{line[-80:]!r}")
            self.assertEqual(doc["schema"], "gst-sam3/1")
            numbers.append(doc["frame"]["number"])
        self.assertEqual(numbers, list(range(len(numbers))), what)
        return len(numbers)

    def check_stopped(self, data, what):
        self.assertTrue(data.endswith(b"\n"), f"{what}: the file ends inside a line: "
                        f"...{data[-80:]!r}")
        return self.check_lines(data.split(b"\n")[:-1], what)

    def check_killed(self, data, what):
        """Returns (whole lines, whether the last one was cut)."""
        whole, _, tail = data.rpartition(b"\n")
        if tail:
            self.assertEqual(len(data) % PAGE, 0, f"{what}: a line cut off the kernel's page "
                             f"boundaries ({len(data)} bytes): ...{data[-80:]!r}")
        return self.check_lines(whole.split(b"\n") if whole else [], what), bool(tail)

    def stop_while_writing(self, launch, path, min_bytes, stops, pause):
        writer = Writer(launch, path, min_bytes)
        try:
            seen = 0
            for stop in range(stops):
                time.sleep(self.rng.uniform(0, pause))
                writer.stop()
                try:
                    lines = self.check_stopped(read(path), f"stop {stop}")
                finally:
                    writer.process.send_signal(signal.SIGCONT)
                self.assertGreaterEqual(lines, seen, f"stop {stop}")
                seen = lines
            return seen
        finally:
            writer.kill()

    def kill_while_writing(self, launch, path, min_bytes, runs):
        cut = 0
        for run in range(runs):
            writer = Writer(launch, path, min_bytes)
            time.sleep(self.rng.uniform(0, 0.5))
            writer.kill()
            data = read(path)
            lines, was_cut = self.check_killed(data, f"kill {run}")
            cut += was_cut
            print(f"kill {run}: {lines} whole lines, {len(data)} bytes"
                  + (", the last line cut at a page boundary" if was_cut else ""))
        self.assertLessEqual(cut, runs // 4, "too many kills cut a line: is the line written "
                             "in pieces?")

    def test_small_lines_at_full_speed_stopped(self):
        path = os.path.join(self.tmp.name, "small-stopped.jsonl")
        lines = self.stop_while_writing(self.small_lines(path), path, 64 * 1024, 40, 0.05)
        print(f"40 stops: {lines} whole lines at the last one")

    def test_small_lines_at_full_speed_killed(self):
        path = os.path.join(self.tmp.name, "small-killed.jsonl")
        self.kill_while_writing(self.small_lines(path), path, 64 * 1024, 8)

    def test_large_lines_synced_every_frame_stopped(self):
        path = os.path.join(self.tmp.name, "large-stopped.jsonl")
        self.stop_while_writing(self.large_lines(path), path, 1, 10, 0.3)
        data = read(path)
        longest = max(len(line) for line in data.split(b"\n"))
        self.assertGreater(longest, PAGE, "the lines should span pages")
        print(f"10 stops: longest line {longest} bytes")

    def test_large_lines_synced_every_frame_killed(self):
        path = os.path.join(self.tmp.name, "large-killed.jsonl")
        self.kill_while_writing(self.large_lines(path), path, 1, 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
