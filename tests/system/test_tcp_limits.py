"""DNS over TCP against clients that hold connections (RFC 7766 §6.2.3): a message must
arrive whole within server.tcp_idle_timeout however slowly it trickles in, and one client
address may hold at most server.tcp_max_per_client connections, so that it cannot take the
whole table (server.tcp_max_clients) from everyone else.

Every client binds its own loopback address: Linux routes all of 127.0.0.0/8 to lo, so
127.0.0.2 and 127.0.0.3 are other clients on the same machine."""

import select
import socket
import time
import unittest

import dns.message

import harness
from harness import dig, frame, read_framed

ATTACKER = "127.0.0.1"
OTHER_ATTACKER = "127.0.0.2"
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


class PerClientLimitTest(harness.ServerTestCase):
    PER_CLIENT = 8
    SERVER_ARGS = {"server": {"tcp_max_per_client": PER_CLIENT, "tcp_idle_timeout": 60}}

    def test_one_address_gets_at_most_its_share(self):
        held = []
        try:
            for i in range(self.PER_CLIENT):
                s = connect_from(ATTACKER, self.port)
                held.append(s)
                # Served, so accepted: the server counts it before the next one connects.
                self.assertTrue(served(s, 100 + i), f"connection {i + 1} of {self.PER_CLIENT} "
                                                    "from one address not served")
            with connect_from(ATTACKER, self.port) as extra:
                self.assertTrue(closed_at_once(extra),
                                f"connection {self.PER_CLIENT + 1} from {ATTACKER} was not "
                                "closed at once")
            # Another client address is not held back by the first one's connections.
            with connect_from(OTHER_ATTACKER, self.port) as other:
                self.assertTrue(served(other, 200), f"a connection from {OTHER_ATTACKER} "
                                                    "was not answered")
            r = dig(self.port, "www.example.test", "A", "+tcp", "-b", LEGITIMATE)
            self.assertEqual(r.status, "NOERROR", r.text)
            # The held connections still work, and closing one makes room for another.
            for i, s in enumerate(held):
                self.assertTrue(served(s, 300 + i), f"held connection {i + 1} stopped")
            held.pop().close()
            self.assertTrue(harness.wait_for(lambda: resolves_from(ATTACKER, self.port),
                                             timeout=5, interval=0.2),
                            "no room for a new connection after one from the address closed")
        finally:
            for s in held:
                s.close()


class FullTableTest(harness.ServerTestCase):
    """One address drips on as many connections as it can open; the table has room for more
    than its share, so another client still gets in."""

    MAX_CLIENTS = 12
    PER_CLIENT = 8
    SERVER_ARGS = {"server": {"tcp_max_clients": MAX_CLIENTS, "tcp_max_per_client": PER_CLIENT,
                              "tcp_idle_timeout": 60}}

    def test_other_client_resolves_while_one_address_fills_the_table(self):
        clients = SlowClients(self.port, ATTACKER, 2 * self.MAX_CLIENTS)
        try:
            clients.run(2.0)
            r = dig(self.port, "www.example.test", "A", "+tcp", "-b", LEGITIMATE)
            self.assertEqual(r.status, "NOERROR", r.text)
            self.assertEqual(sorted(r.rdata()), ["192.0.2.10", "192.0.2.11"], r.text)
            clients.run(DRIP_INTERVAL)
            self.assertTrue(resolves_from(LEGITIMATE, self.port),
                            "a raw TCP query from another address was not answered")
            # The server closed every connection beyond the address's share at once.
            self.assertEqual(len(clients.open_sockets()), self.PER_CLIENT)
        finally:
            clients.close()


class SlowDripTableTest(harness.ServerTestCase):
    """Slow clients on two addresses fill the whole table: a legitimate client is refused
    until the idle timeout closes them, and not for ever."""

    IDLE_TIMEOUT = 2
    MAX_CLIENTS = 12
    SERVER_ARGS = {"server": {"tcp_max_clients": MAX_CLIENTS, "tcp_max_per_client": 6,
                              "tcp_idle_timeout": IDLE_TIMEOUT}}

    def test_slow_clients_give_the_table_back(self):
        first = SlowClients(self.port, ATTACKER, self.MAX_CLIENTS // 2)
        second = SlowClients(self.port, OTHER_ATTACKER, self.MAX_CLIENTS // 2)
        try:
            first.run(0.3)
            second.run(0.3)
            started = time.monotonic()
            self.assertFalse(resolves_from(LEGITIMATE, self.port, timeout=0.5),
                             "served although slow clients hold every connection")
            answered = None
            # Bounded: 40 attempts, each at most 0.5 s plus a drip.
            for _ in range(40):
                if resolves_from(LEGITIMATE, self.port, timeout=0.5):
                    answered = time.monotonic() - started
                    break
                first.run(0.1)
                second.run(0.1)
            self.assertIsNotNone(answered, "the table stayed full of slow clients")
            self.assertLessEqual(answered, self.IDLE_TIMEOUT + 4.0)
        finally:
            first.close()
            second.close()


if __name__ == "__main__":
    unittest.main()
