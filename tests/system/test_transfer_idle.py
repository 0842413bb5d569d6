"""Zone transfer to a slow reader: the TCP idle timeout counts a connection that is writing
as busy, and still closes one whose peer stopped reading.

signpostd runs with `server.tcp_idle_timeout = 1` and a registry zone of a few hundred
kilobytes. A raw TCP client with a small receive buffer reads the AXFR in small pieces
with pauses, so that it takes several times the timeout: it must get every message. A
client that sends the request and never reads must be closed (counted on /metrics).
"""

import socket
import struct
import time
import unittest
import urllib.request

import dns.message
import dns.tsig
import dns.tsigkeyring

from harness import LOOPBACK, Server, free_port, wait_for

ZONE = "svc.internal."
KEY_NAME = "xfr-key"
KEY_SECRET = "eGZyIGlkbGUgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZg=="
INSTANCES = 2500
IDLE_TIMEOUT = 1  # seconds


def config(http_port):
    lines = [f"""
[http]
listen = ["{LOOPBACK}:{http_port}"]

[[key]]
name = "{KEY_NAME}"
secret = "{KEY_SECRET}"

[[transfer]]
zone = "{ZONE}"
allow = ["127.0.0.1"]
key = "{KEY_NAME}"

[[service]]
name = "bulk"
port = 9000
"""]
    for i in range(INSTANCES):
        lines.append(f'[[service.instance]]\nid = "bulk-{i}"\nnode = "bulk-node-{i}"\n'
                     f'addresses = ["10.1.{i // 256}.{i % 256}"]\n')
    return "\n".join(lines)


def axfr_request():
    query = dns.message.make_query(ZONE, "AXFR")
    query.use_tsig(dns.tsigkeyring.from_text({KEY_NAME: KEY_SECRET}), KEY_NAME,
                   algorithm=dns.tsig.HMAC_SHA256)
    wire = query.to_wire()
    return struct.pack("!H", len(wire)) + wire


def slow_connection():
    """A TCP socket to signpostd whose small receive buffer keeps the server's writes short."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect((LOOPBACK, SERVER.port))
    return sock


def split_frames(data):
    """The messages of a framed stream, and the octets left after the last whole one."""
    frames = []
    while len(data) >= 2:
        length = struct.unpack("!H", data[:2])[0]
        if len(data) < 2 + length:
            break
        frames.append(data[2:2 + length])
        data = data[2 + length:]
    return frames, data


def skip_name(wire, at):
    """The offset after the (possibly compressed) name at `at`."""
    while wire[at] != 0:
        if wire[at] & 0xC0 == 0xC0:
            return at + 2
        at += wire[at] + 1
    return at + 1


def soa_count(frames):
    """SOA records in the answer sections: a whole AXFR has two (RFC 5936 §2.2). Read from
    the wire, as the messages carry TSIG that is not what this test checks."""
    count = 0
    for wire in frames:
        qdcount, ancount = struct.unpack("!HH", wire[4:8])
        at = 12
        for _ in range(qdcount):
            at = skip_name(wire, at) + 4
        for _ in range(ancount):
            at = skip_name(wire, at)
            rdtype, _, _, rdlength = struct.unpack("!HHIH", wire[at:at + 10])
            count += rdtype == 6
            at += 10 + rdlength
    return count


def idle_closed():
    url = f"http://{LOOPBACK}:{HTTP_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("signpost_tcp_idle_closed_total "):
                return float(line.split()[1])
    raise AssertionError("/metrics has no signpost_tcp_idle_closed_total")


SERVER = None
HTTP_PORT = None


def setUpModule():
    global SERVER, HTTP_PORT
    HTTP_PORT = free_port()
    SERVER = Server(server={"tcp_idle_timeout": IDLE_TIMEOUT}, extra=config(HTTP_PORT))
    SERVER.start()


def tearDownModule():
    SERVER.stop()
    SERVER.cleanup()


class SlowReaderTest(unittest.TestCase):
    def test_a_transfer_read_slowly_arrives_whole(self):
        with slow_connection() as sock:
            sock.sendall(axfr_request())
            started = time.monotonic()
            data = b""
            frames = []
            # Bounded: the zone is a few hundred kilobytes, read 2 KiB at a time.
            for _ in range(5000):
                chunk = sock.recv(2048)
                if not chunk:
                    break
                data += chunk
                frames, _ = split_frames(data)
                # The closing SOA ends the transfer (RFC 5936 §2.2).
                if len(frames) > 1 and soa_count(frames[-1:]):
                    break
                time.sleep(0.01)  # the slowness under test, not a wait for something
            took = time.monotonic() - started
        frames, rest = split_frames(data)
        self.assertEqual(b"", rest, f"cut off after {len(data)} octets, {took:.1f} s")
        self.assertGreater(len(frames), 2)
        self.assertEqual(2, soa_count(frames), f"{len(frames)} messages in {took:.1f} s")
        self.assertTrue(all(frame[3] & 0x0f == 0 for frame in frames))
        # Slow enough that a deadline that did not move on writes would have cut it.
        self.assertGreater(took, 2 * IDLE_TIMEOUT)

    def test_a_client_that_never_reads_is_closed(self):
        before = idle_closed()
        with slow_connection() as sock:
            sock.sendall(axfr_request())
            self.assertTrue(wait_for(lambda: idle_closed() > before, 10 * IDLE_TIMEOUT),
                            "the connection was never closed")
            # What the server had written before it gave up, then the end: never the
            # whole zone.
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        frames, _ = split_frames(data)
        self.assertLess(soa_count(frames), 2)
        self.assertTrue(SERVER.alive())


if __name__ == "__main__":
    unittest.main()
