#!/usr/bin/env python3
"""examples/read_masks.py and sam3-example-app run end to end on a tiny random model.

Environment (set by tests/meson.build): SAM3_BUILD_ROOT (sam3-make-test-model, the plugin,
the typelib and libgstsam3meta under gst/), SAM3_EXAMPLE_APP, SAM3_READ_MASKS,
GST_PLUGIN_PATH_1_0. threshold=0 keeps every query of the random model, so each frame has
instances.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ["SAM3_BUILD_ROOT"]
APP = os.environ.get("SAM3_EXAMPLE_APP", os.path.join(BUILD, "examples", "sam3-example-app"))
READ_MASKS = os.environ["SAM3_READ_MASKS"]

FRAME = re.compile(r"^frame (\d+) \((\d+)x(\d+)\) prompts=\[(.*)\]: (\d+) instance\(s\)$")
INSTANCE = re.compile(
    r"^  id=(\d+) label='([^']*)' score=([0-9.]+) box=\(([-0-9.]+),([-0-9.]+) "
    r"([0-9.]+)x([0-9.]+)\) mask=(\d+)x(\d+)$")
APP_FRAME = re.compile(r"^frame (\d+): (\d+) instance\(s\)$")
APP_INSTANCE = re.compile(r"^  #(\d+) (.+) score=([0-9.]+) box=\(.*\)$")


def environment():
    env = dict(os.environ)
    gst_dir = os.path.join(BUILD, "gst")
    env["GI_TYPELIB_PATH"] = gst_dir
    env["LD_LIBRARY_PATH"] = gst_dir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    return env


def run(args):
    return subprocess.run(args, capture_output=True, text=True, env=environment(), timeout=120)


class Examples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "tiny")
        subprocess.run([os.path.join(BUILD, "tools", "sam3-make-test-model"), "--preset", "tiny",
                        cls.model], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_read_masks_prints_every_frame_and_instance(self):
        r = run([sys.executable, READ_MASKS, "--model", self.model, "--prompt", "cat;dog",
                 "--threshold", "0", "--frames", "3"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        frames = [FRAME.match(line) for line in lines if line.startswith("frame ")]
        self.assertEqual([int(m.group(1)) for m in frames], [0, 1, 2], r.stdout)
        for m in frames:
            self.assertEqual((m.group(2), m.group(3)), ("320", "240"))
            self.assertEqual(m.group(4), "'cat', 'dog'")
            self.assertGreater(int(m.group(5)), 0)
        instances = [INSTANCE.match(line) for line in lines if line.startswith("  id=")]
        self.assertTrue(all(instances), r.stdout)
        self.assertEqual(len(instances), sum(int(m.group(5)) for m in frames))
        for m in instances:
            self.assertIn(m.group(2), ("cat", "dog"))
            self.assertTrue(0.0 <= float(m.group(3)) <= 1.0)
            self.assertGreater(int(m.group(8)) * int(m.group(9)), 0, "instance without mask")
        self.assertEqual(lines[-1], f"3 frame(s), {len(instances)} instance(s)")

    def test_read_masks_names_a_missing_model(self):
        r = run([sys.executable, READ_MASKS, "--model", os.path.join(self.tmp.name, "absent"),
                 "--frames", "1"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Cannot load the SAM 3 model", r.stderr)
        self.assertIn("absent", r.stderr)

    def test_app_switches_the_prompt_after_the_given_frame(self):
        r = run([APP, "--model", self.model, "--prompt", "cat", "--then", "dog", "--switch-at",
                 "1", "--frames", "4", "--threshold", "0"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('prompt -> "dog" from frame 2', r.stdout)
        labels, frame = {}, None
        for line in r.stdout.splitlines():
            if m := APP_FRAME.match(line):
                frame = int(m.group(1))
                labels[frame] = set()
                self.assertGreater(int(m.group(2)), 0, line)
            elif m := APP_INSTANCE.match(line):
                labels[frame].add(m.group(2))
        self.assertEqual(labels, {0: {"cat"}, 1: {"cat"}, 2: {"dog"}, 3: {"dog"}}, r.stdout)

    def test_app_reports_a_missing_model_as_an_error(self):
        r = run([APP, "--model", os.path.join(self.tmp.name, "absent"), "--frames", "1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: Cannot load the SAM 3 model", r.stderr)

    def test_app_refuses_a_missing_model_option(self):
        r = run([APP, "--frames", "1"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("usage:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
