"""The secondaries of the comparison's "xfr" variant: NSD, Knot DNS and BIND following
signpostd's registry zone by TSIG-signed IXFR and NOTIFY, as tests/system/secondaries.py
starts them (same configs, same key), each pinned to the client core so that their work
does not fall on the server's; and a Follower that reads the zone's serial at signpostd
and at each secondary during a run, for their lag.

The serial of the registry zone goes up by one per publish that changed it, so a
secondary's serial behind signpostd's counts the publishes it has not served yet; the lag
in seconds is how long the secondary has been behind: since signpostd was first seen
serving a newer serial than the secondary's (seen at the PERIOD's resolution).
"""

import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))

import bench_measure  # noqa: E402

# The system tests' starters need dnspython (python3-dnspython), which only the "xfr"
# comparison does: without it the rest of the benchmark still runs.
try:
    import dns.message
    import dns.rdatatype
    import secondaries
    from harness import udp_exchange
except ImportError as e:
    MISSING = f"{e} (python3-dnspython; run .ci/setup --bench)"
else:
    MISSING = None
    KEY_NAME = secondaries.KEY_NAME
    KEY_SECRET = secondaries.KEY_SECRET
# Seconds each secondary may take to transfer and serve the zone after it starts; one that
# has not by then, or whose transfer failed, is stopped and left out.
LOAD_TIMEOUT = 120
CATCH_UP_TIMEOUT = 30  # seconds each may take to serve the final serial after a run


def pinned(cls, core):
    """A subclass of secondary class `cls` whose process runs on CPU `core` only."""
    class Pinned(cls):
        def command(self):
            return bench_measure.pinned(core, super().command())
    Pinned.__name__ = f"Pinned{cls.__name__}"
    return Pinned


def create(core, zone):
    """NSD, Knot and BIND for `zone`, each with a free loopback port, not started (the
    primary's port is set before start())."""
    return [pinned(cls, core)(None, [zone])
            for cls in (secondaries.Nsd, secondaries.Knot, secondaries.Bind)]


def soa_serial(port, zone):
    """The SOA serial of `zone` served on loopback `port`, or None without an answer."""
    response = udp_exchange(port, dns.message.make_query(zone, "SOA").to_wire(), timeout=0.3)
    if response is None:
        return None
    for rrset in dns.message.from_wire(response).answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


def serial_behind(current, target):
    """Publishes `current` is behind `target` (RFC 1982 serial arithmetic); None: no serial."""
    if current is None or target is None:
        return None
    return (target - current) % 2**32 if (target - current) % 2**32 < 2**31 else 0


def transfer_failure(secondary):
    """Why the secondary's last transfer failed, from its log, or None. Only BIND says so
    in a line of its own ("Transfer status: ran out of space"); it then tries again at
    each NOTIFY, a whole AXFR each time."""
    lines = re.findall(r"Transfer status: (.+)", secondary.log())
    return lines[-1].strip() if lines and lines[-1].strip() != "success" else None


def load(followers, primary_port, zone, timeout=LOAD_TIMEOUT):
    """Starts each secondary of `primary_port` and waits until all serve the primary's
    serial, `timeout` seconds at most; stops those that did not or whose transfer failed.
    Returns them ({secondary: why}) and the seconds each of the others took."""
    started = time.monotonic()
    for s in followers:
        s.primary_port = primary_port
        s.start()
    target = soa_serial(primary_port, zone)
    if target is None:
        raise RuntimeError(f"no SOA for {zone} from signpostd on port {primary_port}")
    seconds, waiting, failed = {}, list(followers), {}
    while waiting and time.monotonic() - started < timeout:
        for s in list(waiting):
            if not s.alive():
                raise RuntimeError(f"{s.NAME} exited ({s.process.returncode}):\n{s.log()}")
            if serial_behind(soa_serial(s.port, zone), target) == 0:
                seconds[s.NAME] = time.monotonic() - started
                waiting.remove(s)
            elif (why := transfer_failure(s)) is not None:
                failed[s] = f"its transfer failed: {why}"
                waiting.remove(s)
        if waiting:
            time.sleep(0.1)
    failed.update({s: f"not serving the zone within {timeout} s" for s in waiting})
    for s in failed:
        s.stop()
    return failed, seconds


def stop(followers):
    """Stops each secondary by pid and removes its folder."""
    for s in followers:
        s.stop()
        s.cleanup()


class Follower:
    """Every PERIOD seconds between start() and finish(), from a thread pinned to the client
    core, asks signpostd and each secondary for the zone's SOA over UDP: the serials
    signpostd published during the run, and each secondary's largest lag, in seconds.
    finish() adds the lag at the end (publishes and seconds behind); catch_up() then waits
    for each to serve signpostd's last serial, so that no transfer runs into the next
    measurement. With no secondaries it only counts signpostd's publishes."""

    PERIOD = 0.1

    def __init__(self, primary_port, followers, zone, core):
        self.primary_port = primary_port
        self.followers = followers
        self.zone = zone
        self.core = core
        self.thread = None
        self.stopping = threading.Event()
        self.error = None

    def serial(self, port=None):
        return soa_serial(port or self.primary_port, self.zone)

    def start(self, limit):
        self.stopping.clear()
        self.error = None
        self.first = self.serial()
        self.served = [(time.monotonic(), self.first)]  # signpostd's serials as they came
        self.largest = {s.NAME: 0.0 for s in self.followers}
        self.last = {}
        self.cpu_before = {s.NAME: bench_measure.cpu_seconds(s.process.pid, reaped=True)
                           for s in self.followers}
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self.run, args=(time.monotonic() + limit,),
                                       name="follower", daemon=True)
        self.thread.start()

    def run(self, end):
        try:
            os.sched_setaffinity(0, {self.core})  # this thread only, as a pinned tool
            while not self.stopping.is_set() and time.monotonic() < end:
                self.sample()
                self.stopping.wait(self.PERIOD)
        except Exception as e:  # noqa: BLE001 -- reported by finish()
            self.error = e

    def sample(self):
        now = time.monotonic()
        primary = self.serial()
        if primary is not None and primary != self.served[-1][1]:
            self.served.append((now, primary))
        lags = {}
        for s in self.followers:
            current = self.serial(s.port)
            behind = serial_behind(current, primary)
            # Behind since the first serial newer than its own (or the run's start).
            since = next((at for at, serial in self.served
                          if current is None or serial_behind(current, serial)), now)
            lags[s.NAME] = (behind, now - since if behind else 0.0)
            self.largest[s.NAME] = max(self.largest[s.NAME], lags[s.NAME][1])
        self.last = {"primary": primary, "lags": lags}

    def finish(self):
        """Stops sampling; returns the run's figures: xfr_publishes_per_second, and per
        secondary <name>_lag_serials and <name>_lag_seconds (at the last sample),
        <name>_largest_lag_seconds and <name>_cpu_percent (its CPU over the run)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            if self.thread.is_alive():
                raise RuntimeError("the serial follower did not stop")
            self.thread = None
        if self.error is not None:
            raise RuntimeError(f"the serial follower failed: {self.error!r}")
        self.sample()
        seconds = time.monotonic() - self.started
        last = self.last["primary"]
        figures = {"xfr_publishes_per_second":
                   (serial_behind(self.first, last) or 0) / seconds}
        for s in self.followers:
            behind, lag = self.last["lags"][s.NAME]
            cpu = bench_measure.cpu_seconds(s.process.pid, reaped=True) - self.cpu_before[s.NAME]
            figures.update({f"{s.NAME}_lag_serials": behind, f"{s.NAME}_lag_seconds": lag,
                            f"{s.NAME}_largest_lag_seconds": self.largest[s.NAME],
                            f"{s.NAME}_cpu_percent": cpu / seconds * 100})
        return figures

    def catch_up(self, timeout=CATCH_UP_TIMEOUT):
        """Waits, `timeout` seconds at most, for each secondary to serve signpostd's serial
        now; returns <name>_catch_up_seconds (None: not in time)."""
        target, started = self.serial(), time.monotonic()
        figures, waiting = {}, list(self.followers)
        while waiting and time.monotonic() - started < timeout:
            for s in list(waiting):
                if serial_behind(self.serial(s.port), target) == 0:
                    figures[f"{s.NAME}_catch_up_seconds"] = time.monotonic() - started
                    waiting.remove(s)
            if waiting:
                time.sleep(0.02)
        for s in waiting:
            figures[f"{s.NAME}_catch_up_seconds"] = None
            print(f"compare: {s.NAME} did not serve serial {target} within {timeout}s",
                  file=sys.stderr, flush=True)
        return figures
