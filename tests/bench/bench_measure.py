"""Measurements of one benchmark run: the load (dnsperf or the batched generator, pinned to
the client core) and the server's CPU time and memory read from /proc.

A server's figures are summed over its process tree, since NSD serves from a child
process. CPU time is utime + stime of every process in the tree (all threads included).
"""

import os
import re
import subprocess

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


def cpu_seconds(pid):
    """utime + stime of the process tree of `pid`, in seconds (/proc/<pid>/stat 14, 15)."""
    ticks = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


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


def load_command(load_binary, port, queries, duration, rate=None):
    command = [load_binary, "--server", "127.0.0.1", "--port", str(port), "--queries",
               queries, "--duration", f"{duration:g}", "--edns"]
    if rate:
        command += ["--rate", str(rate)]
    return command, parse_load


def measure(server_pid, command, parse, server_core, client_core, timeout):
    """Runs the load pinned to `client_core` and returns its figures plus the server's CPU
    time over the run, per answered query, and the time the server's core spent on other
    processes (a noisy machine shows there)."""
    before, core_before = cpu_seconds(server_pid), core_busy_seconds(server_core)
    done = subprocess.run(pinned(client_core, command),
                          capture_output=True, text=True, timeout=timeout, check=False)
    cpu = cpu_seconds(server_pid) - before
    other = core_busy_seconds(server_core) - core_before - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    figures = parse(done.stdout)
    completed = figures["completed"]
    figures["cpu_seconds"] = cpu
    figures["other_seconds"] = max(other, 0.0)
    figures["cpu_us_per_query"] = cpu / completed * 1e6 if completed else None
    return figures
