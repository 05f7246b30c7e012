#!/usr/bin/env python3
"""sam3-rtsp-server's protections, on loopback: it listens on 127.0.0.1 unless told
otherwise; with users, a client without credentials or with wrong ones is refused and the
right ones play (digest and basic); with a certificate it serves rtsps:// only, with the
media inside the TLS connection (never RTP over UDP), which a client trusting the test CA
(rtspsrc tls-database) plays and a client trusting another CA refuses. The CAs and the server certificate are made with openssl at test time.

Environment (set by tests/meson.build): SAM3_BUILD_ROOT (tools/sam3-rtsp-server),
SAM3_OPENSSL. Clients are rtspsrc pipelines run in this process through GObject
introspection.
"""

import os
import socket
import subprocess
import tempfile
import time
import unittest

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gio, Gst  # noqa: E402

BUILD = os.environ["SAM3_BUILD_ROOT"]
SERVER = os.path.join(BUILD, "tools", "sam3-rtsp-server")
OPENSSL = os.environ.get("SAM3_OPENSSL") or "openssl"
CAMERA = ("videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=10/1 ! "
          "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! "
          "rtph264pay name=pay0 config-interval=1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port):
    """The local IPv4 addresses with a listening TCP socket on `port` (from /proc)."""
    found = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def play(url, frames=5, timeout=20, user=None, password=None, ca_file=None, rejected=None,
         protocols=None):
    """Plays `url` with rtspsrc until `frames` frames are decoded: (frames, error text).
    The certificate problems of a refused server certificate are appended to `rejected`;
    `protocols` restricts rtspsrc's lower transports ("udp", "tcp")."""
    pipeline = Gst.parse_launch(
        "rtspsrc name=src latency=100 ! rtph264depay ! h264parse ! avdec_h264 ! "
        "fakesink name=sink signal-handoffs=true sync=false")
    src = pipeline.get_by_name("src")
    src.set_property("location", url)
    if protocols is not None:
        Gst.util_set_object_arg(src, "protocols", protocols)
    if user is not None:
        src.set_property("user-id", user)
        src.set_property("user-pw", password)
    if ca_file is not None:
        src.set_property("tls-database", Gio.TlsFileDatabase.new(ca_file))
        src.set_property("tls-validation-flags", Gio.TlsCertificateFlags.VALIDATE_ALL)
        if rejected is not None:
            def refuse(*args):
                rejected.append(args[-1])  # the GTlsCertificateFlags
                return False

            src.connect("accept-certificate", refuse)
    decoded = [0]
    pipeline.get_by_name("sink").connect("handoff", lambda *args: decoded.__setitem__(
        0, decoded[0] + 1))
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    error = None
    end = time.monotonic() + timeout
    while decoded[0] < frames and time.monotonic() < end:
        msg = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.ERROR)
        if msg:
            err, debug = msg.parse_error()
            error = f"{err.message} ({debug})"
            break
    pipeline.set_state(Gst.State.NULL)
    return decoded[0], error


class Server:
    def __init__(self, *args):
        self.process = subprocess.Popen([SERVER, "--port", "0", *args, "--mount", "/cam", CAMERA],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise AssertionError("the server did not start: " + self.process.stderr.read())
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()
        self.process.stderr.close()


class RtspSecurity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        Gst.init(None)
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name

        def openssl(*args):
            subprocess.run([OPENSSL, *args], check=True, capture_output=True)

        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *key, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
                "-days", "2", "-subj", "/CN=sam3-test-ca")
        openssl("req", "-x509", *key, "-keyout", f"{d}/wrong.key", "-out", f"{d}/wrong-ca.pem",
                "-days", "2", "-subj", "/CN=sam3-wrong-ca")
        openssl("req", *key, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
                "-subj", "/CN=localhost")
        with open(f"{d}/san.cnf", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey",
                f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/server.pem", "-days", "2",
                "-extfile", f"{d}/san.cnf")
        cls.ca, cls.wrong_ca = f"{d}/ca.pem", f"{d}/wrong-ca.pem"
        cls.cert, cls.key = f"{d}/server.pem", f"{d}/server.key"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def serve(self, *args):
        server = Server(*args)
        self.addCleanup(server.stop)
        return server

    def assert_plays(self, server, **client):
        frames, error = play(server.url, **client)
        self.assertGreaterEqual(frames, 5, f"{server.url} {client}: {frames} frames, {error}")

    def assert_refused(self, server, why, **client):
        frames, error = play(server.url, **client)
        self.assertEqual(frames, 0, f"{server.url} {client} played")
        self.assertIsNotNone(error, f"{server.url} {client}: no error")
        self.assertIn(why, error)

    def test_listens_on_loopback_by_default(self):
        server = self.serve()
        self.assertTrue(server.url.startswith("rtsp://127.0.0.1:"), server.url)
        self.assertEqual(listening_addresses(server.port), {"127.0.0.1"})
        self.assert_plays(server)

    def test_every_interface_only_when_asked(self):
        server = self.serve("--address", "0.0.0.0")
        self.assertEqual(listening_addresses(server.port), {"0.0.0.0"})

    def test_digest_credentials(self):
        server = self.serve("--user", "viewer:s3cret", "--user", "other:pw")
        self.assert_refused(server, "Unauthorized")
        self.assert_refused(server, "Unauthorized", user="viewer", password="wrong")
        self.assert_refused(server, "Unauthorized", user="nobody", password="s3cret")
        self.assert_plays(server, user="viewer", password="s3cret")

    def test_basic_credentials_from_a_file(self):
        users = os.path.join(self.tmp.name, "users")
        with open(users, "w") as f:
            f.write("# name:password\nviewer:s3cret\n")
        server = self.serve("--auth", "basic", "--users-file", users)
        self.assert_refused(server, "Unauthorized")
        self.assert_refused(server, "Unauthorized", user="viewer", password="wrong")
        self.assert_plays(server, user="viewer", password="s3cret")

    def test_tls_with_the_test_ca(self):
        server = self.serve("--tls-cert", self.cert, "--tls-key", self.key,
                            "--user", "viewer:s3cret")
        self.assertTrue(server.url.startswith("rtsps://127.0.0.1:"), server.url)
        self.assert_plays(server, ca_file=self.ca, user="viewer", password="s3cret")
        self.assert_refused(server, "Unauthorized", ca_file=self.ca)

    def test_tls_media_stays_inside_the_tls_connection(self):
        # RTP over UDP would bypass TLS: the server offers the media interleaved only.
        server = self.serve("--tls-cert", self.cert, "--tls-key", self.key)
        self.assert_plays(server, ca_file=self.ca, protocols="tcp")
        frames, error = play(server.url, ca_file=self.ca, protocols="udp", timeout=10)
        self.assertEqual(frames, 0)
        self.assertIn("transport protocols", error or "")

    def test_tls_refused_by_a_client_trusting_another_ca(self):
        server = self.serve("--tls-cert", self.cert, "--tls-key", self.key)
        self.assert_plays(server, ca_file=self.ca)
        rejected = []
        frames, error = play(server.url, ca_file=self.wrong_ca, rejected=rejected)
        self.assertEqual(frames, 0)
        self.assertIsNotNone(error)
        self.assertTrue(rejected and rejected[0] & Gio.TlsCertificateFlags.UNKNOWN_CA, rejected)

    def test_plain_rtsp_client_gets_nothing_from_a_tls_server(self):
        server = self.serve("--tls-cert", self.cert, "--tls-key", self.key)
        frames, error = play(server.url.replace("rtsps://", "rtsp://"), timeout=10)
        self.assertEqual(frames, 0)
        self.assertIsNotNone(error)


if __name__ == "__main__":
    unittest.main(verbosity=2)
