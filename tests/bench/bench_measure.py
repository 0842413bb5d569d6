"""Measurements of one benchmark run: the load (dnsperf or the batched generator, pinned to
the client core, with the heartbeat generator beside it for one test) and the server's CPU
time and memory read from /proc.

A server's figures are summed over its process tree, since NSD serves from a child
process. CPU time is utime + stime of every process in the tree (all threads included);
each thread's own is read too (/proc/<pid>/task/<tid>/stat), for the busiest thread's
share: a DNS worker's cost apart from the heartbeat and publisher threads.

For signpostd with its HTTP API on, a Scraper fetches GET /metrics and GET /v1/status once a
second during a run, as a Prometheus server and an open status page would.
"""

import http.client
import json
import os
import re
import select
import subprocess
import sys
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def pinned(core, command):
    """`command` run on CPU `core` only."""
    return ["taskset", "-c", str(core)] + command


def process_tree(pid):
    """`pid` and all its descendants that are alive now."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def stat_cpu_seconds(path, reaped=False):
    """utime + stime from a /proc stat file (fields 14, 15), in seconds, and with `reaped`
    cutime + cstime (16, 17: its children that have ended); 0 when it is gone."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def cpu_seconds(pid, reaped=False):
    """utime + stime of the process tree of `pid`, in seconds (/proc/<pid>/stat 14, 15);
    with `reaped`, also the CPU of its processes that have ended (NSD forks a process per
    zone reload)."""
    return sum(stat_cpu_seconds(f"/proc/{p}/stat", reaped) for p in process_tree(pid))


def thread_cpu_seconds(pid):
    """utime + stime of every thread of the process tree of `pid`, by "pid/tid"."""
    threads = {}
    for p in process_tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            threads[f"{p}/{tid}"] = stat_cpu_seconds(f"/proc/{p}/task/{tid}/stat")
    return threads


def named_thread_cpu(threads, prefix):
    """The summed CPU of the threads in `threads` ("pid/tid" -> seconds, as from
    thread_cpu_seconds) whose name (/proc/<pid>/task/<tid>/comm) starts with `prefix`."""
    total = 0.0
    for key, seconds in threads.items():
        pid, tid = key.split("/")
        try:
            with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8", errors="replace") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith(prefix):
            total += seconds
    return total


def core_busy_seconds(core):
    """Time core `core` spent running anything, from /proc/stat (user, nice, system, irq,
    softirq, steal), in seconds."""
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            fields = line.split()
            if fields[0] == f"cpu{core}":
                busy = [int(fields[i]) for i in (1, 2, 3, 6, 7, 8)]
                return sum(busy) / CLOCK_TICKS
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def udp_receive_errors():
    """Datagrams the kernel dropped for a full socket receive buffer (/proc/net/snmp, Udp
    RcvbufErrors), over every UDP socket of the host: the server's and the load's."""
    with open("/proc/net/snmp", encoding="ascii") as f:
        header, values = [line.split() for line in f if line.startswith("Udp:")][:2]
    return int(values[header.index("RcvbufErrors")])


def memory_mib(pid):
    """(VmRSS, PSS) of the process tree of `pid` in MiB. RSS counts shared pages once per
    process; PSS shares them out, so the PSS sum is the tree's real footprint."""
    rss_kib = pss_kib = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as f:
                rss_kib += sum(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as f:
                pss_kib += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            continue
    return rss_kib / 1024, pss_kib / 1024


def parse_dnsperf(text):
    """The figures of dnsperf's statistics block."""
    def number(pattern, default=None):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else default

    completed = number(r"Queries completed:\s+(\d+)")
    if completed is None:
        raise RuntimeError("no statistics in dnsperf's output:\n" + text[-2000:])
    rcodes = re.search(r"Response codes:\s+(.*)", text)
    return {
        "completed": completed,
        "lost": number(r"Queries lost:\s+(\d+)", 0),
        "qps": number(r"Queries per second:\s+([\d.]+)"),
        "latency_avg_us": number(r"Average Latency \(s\):\s+([\d.]+)", 0) * 1e6,
        "latency_max_us": number(r"Average Latency \(s\):.*max ([\d.]+)", 0) * 1e6,
        "latency_stddev_us": number(r"Latency StdDev \(s\):\s+([\d.]+)", 0) * 1e6,
        "response_octets": number(r"Average packet size:.*response (\d+)"),
        "rcodes": rcodes.group(1).strip() if rcodes else "",
    }


def parse_load(text):
    """The key=value lines of signpost_bench_load."""
    figures = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            figures[key.strip()] = float(value)
    if "answered" not in figures:
        raise RuntimeError("no figures in the load generator's output:\n" + text[-2000:])
    figures["completed"] = figures["answered"]
    return figures


def dnsperf_command(port, queries, duration, rate=None, tcp=False):
    """The issue's dnsperf setup: one thread, 8 clients, 100 outstanding, EDNS."""
    # -t 1: a query unanswered after a second is lost (as for the batched generator), and
    # a run ends at most a second after its time, however far behind the server is.
    command = ["dnsperf", "-T", "1", "-c", "8", "-q", "100", "-e", "-l", f"{duration:g}",
               "-t", "1", "-s", "127.0.0.1", "-p", str(port), "-d", queries]
    if rate:
        command += ["-Q", str(rate)]
    if tcp:
        command += ["-m", "tcp"]
    return command, parse_dnsperf


def load_command(load_binary, port, queries, duration, rate=None, sockets=1):
    """The batched generator; `sockets` source ports, so that a server whose workers share
    the port (SO_REUSEPORT) spreads the load over them."""
    command = [load_binary, "--server", "127.0.0.1", "--port", str(port), "--queries",
               queries, "--duration", f"{duration:g}", "--edns"]
    if rate:
        command += ["--rate", str(rate)]
    if sockets > 1:
        command += ["--sockets", str(sockets)]
    return command, parse_load


def thread_figures(before, after, completed):
    """The CPU of each thread over the run; the busiest one's per answered query, and how
    busy the second busiest was next to it (two workers sharing the load evenly: 1)."""
    threads = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    ranked = sorted(threads.items(), key=lambda item: item[1], reverse=True)
    top = ranked[0] if ranked else ("", 0.0)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return {
        "threads": threads,
        "busiest_thread": top[0],
        "busiest_thread_cpu_us_per_query": top[1] / completed * 1e6 if completed else None,
        "thread_balance": second / top[1] if top[1] else None,
    }


def measure(server_pid, command, parse, server_core, client_core, timeout):
    """Runs the load pinned to `client_core` and returns its figures plus the server's CPU
    time over the run, per answered query, and the time the server's core spent on other
    processes (a noisy machine shows there)."""
    threads_before, drops_before = thread_cpu_seconds(server_pid), udp_receive_errors()
    before, core_before = cpu_seconds(server_pid), core_busy_seconds(server_core)
    started = time.monotonic()
    done = subprocess.run(pinned(client_core, command),
                          capture_output=True, text=True, timeout=timeout, check=False)
    cpu = cpu_seconds(server_pid) - before
    seconds = time.monotonic() - started
    threads_after, drops = thread_cpu_seconds(server_pid), udp_receive_errors() - drops_before
    other = core_busy_seconds(server_core) - core_before - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    figures = parse(done.stdout)
    completed = figures["completed"]
    figures["cpu_seconds"] = cpu
    figures["seconds"] = seconds
    figures["other_seconds"] = max(other, 0.0)
    figures["udp_drops"] = drops
    figures["cpu_us_per_query"] = cpu / completed * 1e6 if completed else None
    figures.update(thread_figures(threads_before, threads_after, completed))
    return figures


def parse_heartbeats(text):
    """The summary line of signpost_bench_heartbeats ("heartbeats: sent N answered N ..."),
    as hb_sent, hb_answered, ..."""
    for line in text.splitlines():
        if line.startswith("heartbeats:"):
            fields = line.split()[1:]
            return {f"hb_{key}": float(value.removesuffix("/s"))
                    for key, value in zip(fields[::2], fields[1::2])}
    raise RuntimeError("no summary in the heartbeat generator's output:\n" + text[-2000:])


class Heartbeats:
    """signpost_bench_heartbeats against one signpostd, pinned to the client core: registers
    its instances once, then sends renewals and changes in the background during a run."""

    READY_TIMEOUT = 30  # seconds to sign the messages and start

    def __init__(self, binary, port, core, key_name, secret, instances, rate, change_rate):
        self.command = [binary, "--server", "127.0.0.1", "--port", str(port),
                        "--key-name", key_name, "--secret", secret,
                        "--instances", str(instances), "--rate", str(rate),
                        "--changes", str(change_rate)]
        self.core = core
        self.changes = 0  # sent so far: the generator derives each instance's weight from it
        self.process = None

    def register(self):
        """Registers every instance and waits; returns the seconds it took."""
        done = subprocess.run(pinned(self.core, self.command + ["--register-only"]),
                              capture_output=True, text=True, timeout=300, check=False)
        m = re.search(r"registered: instances \d+ seconds ([\d.]+)", done.stdout)
        if done.returncode != 0 or not m:
            raise RuntimeError(f"heartbeat registration failed ({done.returncode}):\n"
                               f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return float(m.group(1))

    def start(self, duration):
        """Starts renewing for `duration` seconds; returns once the timed phase began."""
        self.process = subprocess.Popen(
            pinned(self.core, self.command + ["--renew-only", "--duration", f"{duration:g}",
                                              "--change-offset", str(self.changes)]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], self.READY_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "renewing":
            self.kill()
            raise RuntimeError(f"the heartbeat generator did not start: {line!r}\n"
                               f"{self.process.stderr.read()[-2000:]}")

    def finish(self, timeout):
        """Waits for the end of the run; returns its figures (hb_sent, hb_lost, ...)."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("the heartbeat generator did not end in time") from None
        if self.process.returncode != 0:
            raise RuntimeError(f"the heartbeat generator failed ({self.process.returncode}):"
                               f"\n{out[-2000:]}{err[-2000:]}")
        figures = parse_heartbeats(out)
        self.changes += int(figures["hb_changes"])
        return figures

    def kill(self):
        """Stops a generator still running, by its pid (SIGKILL: it holds nothing)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def http_get(connection, path):
    """(status, body) of GET `path` on an open http.client connection (kept alive)."""
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def api_answer_ok(path, status, body):
    """Whether a signpostd API answer is whole: /metrics carries the query counters, and
    /v1/status is a JSON object."""
    if status != 200:
        return False
    if path == "/metrics":
        return b"signpost_dns_queries_total" in body
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False


class Scraper:
    """GET /metrics and GET /v1/status of one signpostd's HTTP API once a second each, from
    a thread pinned to the client core, over one kept-alive connection (opened again after
    a failure), between start() and finish(). Counts the whole answers and the failures."""

    PATHS = ("/metrics", "/v1/status")
    PERIOD = 1.0  # seconds between the scrapes of each path
    TIMEOUT = 2.0  # seconds a request may take before it counts as failed

    def __init__(self, port, core):
        self.port = port
        self.core = core
        self.thread = None
        self.stopping = threading.Event()
        self.scrapes = self.failures = 0
        self.first_failure = None  # what went wrong first, for the log
        self.error = None  # an exception that ended the thread

    def start(self, limit):
        """Starts scraping now; the thread ends by itself after `limit` seconds at most."""
        self.stopping.clear()
        self.scrapes = self.failures = 0
        self.first_failure = self.error = None
        self.thread = threading.Thread(target=self.run, args=(time.monotonic() + limit,),
                                       name="scraper", daemon=True)
        self.thread.start()

    def finish(self):
        """Stops the thread, waits for it; returns api_scrapes and api_failures."""
        self.stop()
        if self.error is not None:
            raise RuntimeError(f"the API scraper failed: {self.error!r}")
        if self.first_failure is not None:
            print(f"compare: {self.failures} API scrape(s) failed; first: "
                  f"{self.first_failure}", file=sys.stderr, flush=True)
        return {"api_scrapes": self.scrapes, "api_failures": self.failures}

    def stop(self):
        """Stops the thread if it runs: within one request's timeout per path."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=self.TIMEOUT * len(self.PATHS) + 5)
            if self.thread.is_alive():
                raise RuntimeError("the API scraper did not stop")
            self.thread = None

    def run(self, end):
        try:
            os.sched_setaffinity(0, {self.core})  # this thread only, as a pinned tool
            connection, due = None, time.monotonic()
            while not self.stopping.is_set() and time.monotonic() < end:
                for path in self.PATHS:
                    connection = self.scrape(connection, path)
                due += self.PERIOD
                self.stopping.wait(max(0.0, min(due, end) - time.monotonic()))
            if connection is not None:
                connection.close()
        except Exception as e:  # noqa: BLE001 -- reported by finish()
            self.error = e

    def scrape(self, connection, path):
        """One GET, counted; returns the connection to reuse (None after a failure)."""
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                    timeout=self.TIMEOUT)
        try:
            status, body = http_get(connection, path)
            failure = None if api_answer_ok(path, status, body) else f"{path}: {status}"
        except (OSError, http.client.HTTPException) as e:
            failure = f"{path}: {e!r}"
        if failure is None:
            self.scrapes += 1
            return connection
        self.failures += 1
        self.first_failure = self.first_failure or failure
        connection.close()
        return None
