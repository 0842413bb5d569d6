"""DNS over TCP against clients that hold connections (RFC 7766 §6.2.3): a message must
arrive whole within server.tcp_idle_timeout however slowly it trickles in.

Every client binds its own loopback address: Linux routes all of 127.0.0.0/8 to lo, so
127.0.0.2 and 127.0.0.3 are other clients on the same machine."""

import select
import socket
import time
import unittest

import dns.message

import harness
from harness import frame, read_framed

ATTACKER = "127.0.0.1"
LEGITIMATE = "127.0.0.3"
DRIP_INTERVAL = 0.5  # seconds between two octets of a slow client


def query_wire(name="www.example.test.", query_id=None):
    q = harness.query_message(name, "A")
    if query_id is not None:
        q.id = query_id
    return q.to_wire()


def connect_from(source, port, timeout=3.0):
    """A TCP connection to the server from the loopback address `source`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((harness.LOOPBACK, port))
    return s


def served(sock, query_id, timeout=3.0):
    """True when a query sent on `sock` gets its answer."""
    try:
        sock.sendall(frame(query_wire(query_id=query_id)))
    except OSError:
        return False
    body = read_framed(sock, timeout)
    return body is not None and dns.message.from_wire(body).id == query_id


def resolves_from(source, port, timeout=3.0):
    """True when one query over a new connection from `source` is answered correctly."""
    try:
        with connect_from(source, port, timeout) as s:
            return served(s, 4242, timeout)
    except OSError:
        return False


def closed_at_once(sock, timeout=2.0):
    """True when the server closes `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


class SlowClients:
    """Connections that each send a valid query one octet every DRIP_INTERVAL seconds: far
    too slowly for it ever to arrive whole within the idle timeout. Each notes when the
    server closed it."""

    def __init__(self, port, source, count):
        self.port = port
        self.message = frame(query_wire())
        self.opened = {}   # socket -> monotonic time it was connected
        self.sent = {}     # socket -> octets of the message sent so far
        self.closed = {}   # socket -> seconds from connect to the server closing it
        for _ in range(count):
            s = connect_from(source, port)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            self.opened[s] = time.monotonic()
            self.sent[s] = 0

    def open_sockets(self):
        return [s for s in self.opened if s not in self.closed]

    def _note_closed(self, s):
        if s not in self.closed:
            self.closed[s] = time.monotonic() - self.opened[s]

    def drip(self):
        """Sends every open connection its next octet, and notes the ones the server closed
        (nothing is answered before a message is whole, so anything readable is the end)."""
        for s in self.open_sockets():
            try:
                if s.send(self.message[self.sent[s]:self.sent[s] + 1]) == 1:
                    self.sent[s] = (self.sent[s] + 1) % len(self.message)
            except BlockingIOError:
                pass
            except OSError:
                self._note_closed(s)
        self.poll(0)

    def poll(self, timeout):
        """Waits up to `timeout` seconds and notes the connections the server closed."""
        open_now = self.open_sockets()
        if not open_now:
            return
        readable, _, _ = select.select(open_now, [], [], timeout)
        for s in readable:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                self._note_closed(s)
                continue
            if not data:
                self._note_closed(s)

    def run(self, seconds, until_all_closed=False):
        """Drips for up to `seconds`, or until the server closed every connection."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.drip()
            if until_all_closed and not self.open_sockets():
                return
            self.poll(min(DRIP_INTERVAL, max(0.0, deadline - time.monotonic())))

    def close(self):
        for s in self.opened:
            s.close()


class SlowDripTest(harness.ServerTestCase):
    """The defect: a connection that sends one octet now and then used to stay open forever,
    every octet restarting the idle timer."""

    IDLE_TIMEOUT = 2
    SERVER_ARGS = {"server": {"tcp_idle_timeout": IDLE_TIMEOUT}}
    CLIENTS = 50
    MARGIN = 3.0  # seconds past the idle timeout the server may take to close them

    def test_slow_drip_connections_are_closed_after_the_idle_timeout(self):
        clients = SlowClients(self.port, ATTACKER, self.CLIENTS)
        try:
            clients.run(self.IDLE_TIMEOUT + 2 * self.MARGIN, until_all_closed=True)
            still_open = len(clients.open_sockets())
            self.assertEqual(still_open, 0,
                             f"{still_open} of {self.CLIENTS} connections sending an octet every "
                             f"{DRIP_INTERVAL} s were still open after "
                             f"{self.IDLE_TIMEOUT + 2 * self.MARGIN} s")
            for elapsed in clients.closed.values():
                self.assertGreaterEqual(elapsed, self.IDLE_TIMEOUT - 0.5,
                                        "closed before the idle timeout")
                self.assertLessEqual(elapsed, self.IDLE_TIMEOUT + self.MARGIN,
                                     "a message that never came whole was waited for "
                                     "well past the idle timeout")
        finally:
            clients.close()

    def test_partial_message_after_a_query_is_closed_too(self):
        # A whole query is answered; the next one, trickling in, gets one idle timeout.
        with connect_from(ATTACKER, self.port) as s:
            self.assertTrue(served(s, 77))
            message = frame(query_wire())
            started = time.monotonic()
            deadline = started + self.IDLE_TIMEOUT + 2 * self.MARGIN
            closed = None
            for octet in message:
                if time.monotonic() >= deadline:
                    break
                try:
                    s.sendall(bytes([octet]))
                except OSError:
                    closed = time.monotonic() - started
                    break
                if closed_at_once(s, timeout=DRIP_INTERVAL):
                    closed = time.monotonic() - started
                    break
        self.assertIsNotNone(closed, "a second message trickling in kept the connection open")
        self.assertLessEqual(closed, self.IDLE_TIMEOUT + self.MARGIN)

    def test_legitimate_queries_are_answered_while_slow_clients_drip(self):
        clients = SlowClients(self.port, ATTACKER, self.CLIENTS)
        try:
            clients.run(1.0)
            for i in range(5):
                self.assertTrue(resolves_from(LEGITIMATE, self.port),
                                f"TCP query {i + 1} unanswered while slow clients drip")
                clients.run(DRIP_INTERVAL)
        finally:
            clients.close()


if __name__ == "__main__":
    unittest.main()
