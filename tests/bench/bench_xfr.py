"""The zone transfer pair of the comparison, chosen as "xfr" in compare's --servers:
signpostd as it is ("xfr-base") and with a [[transfer]] of its registry zone followed by
NSD, Knot and BIND ("xfr"), run back to back on the same tests, both under the same
changes by signed UPDATE (bench_data.CHANGE_RATE a second). Its table rows, ratios, the
changes and secondaries started for it, and its figures folded into signpostd's column.
"""

import sys

import bench_data
import bench_measure
import bench_secondaries
import bench_servers

NAME = "xfr"
BASE, FULL = (cls.name for cls in bench_servers.XFR)
TESTS = ("a", "rate", "load")
CHANGES = f"{bench_data.CHANGE_RATE} changes/s"
FOLLOWERS = (("nsd", "NSD"), ("knot", "Knot"), ("named", "BIND"))  # (NAME, label)
LAG_FIGURES = ("lag_serials", "lag_seconds", "largest_lag_seconds", "catch_up_seconds")

# Ratios of signpostd's figures, as compare's DERIVED: with the secondaries over without,
# for the whole process and its UDP worker alone; and under the changes over none.
DERIVED = {
    **{f"xfr_{test}_cpu_ratio": ((f"{test}_xfr", "cpu_us_per_query"),
                                 (f"{test}_xfr_base", "cpu_us_per_query")) for test in TESTS},
    **{f"xfr_{test}_udp_ratio": ((f"{test}_xfr", "udp_thread_cpu_us_per_query"),
                                 (f"{test}_xfr_base", "udp_thread_cpu_us_per_query"))
       for test in TESTS},
    **{f"changes_{test}_cpu_ratio": ((f"{test}_xfr_base", "cpu_us_per_query"),
                                     (test, "cpu_us_per_query")) for test in TESTS},
}

# Figures not divided by Knot's or the echo's.
NO_RATIO = {"xfr_thread_percent", "publisher_thread_percent", "xfr_publishes_per_second",
            "changes_failed",
            *(f"{name}_{figure}" for name, _ in FOLLOWERS
              for figure in ("load_seconds", "cpu_percent", *LAG_FIGURES))}


def rows(fixed_rate):
    """compare's table rows (label, test, figure, decimals) of the pair."""
    tests = (("a", "A (dnsperf)"), ("rate", f"A at {fixed_rate // 1000}k QPS"),
             ("load", "A (batched)"))
    per_test = [row for test, label in tests for row in (
        (f"{label} under {CHANGES}: server CPU µs/query", f"{test}_xfr_base",
         "cpu_us_per_query", 2),
        (f"{label} under {CHANGES}, with the secondaries following by zone transfer: server "
         "CPU µs/query", f"{test}_xfr", "cpu_us_per_query", 2),
        (f"{label}: server CPU per query with the secondaries following ÷ without (per "
         "round: lowest to highest)", "derived", f"xfr_{test}_cpu_ratio", 2),
        (f"{label}: DNS UDP worker thread CPU per query with the secondaries following ÷ "
         "without (per round)", "derived", f"xfr_{test}_udp_ratio", 2),
        (f"{label}: server CPU per query under {CHANGES} ÷ with none", "derived",
         f"changes_{test}_cpu_ratio", 2))]
    threads = [
        ("with the secondaries following: transfer thread (dns-xfr) CPU, % of a core",
         "a_xfr", "xfr_thread_percent", 1),
        ("with the secondaries following: publisher thread CPU, % of a core", "a_xfr",
         "publisher_thread_percent", 1),
        ("without transfers: publisher thread CPU, % of a core", "a_xfr_base",
         "publisher_thread_percent", 1),
        ("serials published per second during a run", "a_xfr", "xfr_publishes_per_second", 0)]
    followers = [row for name, label in FOLLOWERS for row in (
        (f"{label}: s to transfer and serve the zone at start", "xfr_summary",
         f"{name}_load_seconds", 1),
        (f"{label}: serials behind at the end of a run, worst run", "xfr_summary",
         f"{name}_lag_serials", 0),
        (f"{label}: s behind at the end of a run, worst run", "xfr_summary",
         f"{name}_lag_seconds", 2),
        (f"{label}: largest lag during a run, s, worst run", "xfr_summary",
         f"{name}_largest_lag_seconds", 2),
        (f"{label}: s to serve the last serial after the changes stop, worst run",
         "xfr_summary", f"{name}_catch_up_seconds", 2),
        (f"{label}: its own CPU (client core) in the A test, % of a core", "a_xfr",
         f"{name}_cpu_percent", 1))]
    return per_test + threads + followers + [
        ("changes answered with an error or unanswered, all runs", "xfr_summary",
         "changes_failed", 0),
        ("with the secondaries following: lost queries, worst run %", "xfr_summary",
         "lost_percent", 2)]


def start_changes(server, binary, core):
    """Registers the changes' instances on one of the pair, then, for "xfr", starts the
    secondaries, which transfer the zone with them, and waits for them (bounded). Returns
    the secondaries left out, {NAME: why}."""
    server.changes = bench_measure.Heartbeats(
        binary, server.port, core, bench_data.HEARTBEAT_KEY_NAME, bench_data.HEARTBEAT_SECRET,
        bench_data.CHANGE_INSTANCES, bench_data.CHANGE_RENEWAL_RATE, bench_data.CHANGE_RATE)
    seconds = server.changes.register()
    print(f"compare: {server.name}: {bench_data.CHANGE_INSTANCES:,} instances for the changes "
          f"registered in {seconds:.2f}s", file=sys.stderr, flush=True)
    followers, left_out = [], {}
    if server.name == FULL:
        followers = server.start_secondaries()
        left_out = {s.NAME: why for s, why in server.left_out.items()}
        for name, why in left_out.items():
            print(f"compare: {name} left out, {why}", file=sys.stderr, flush=True)
        for name, took in server.load_seconds.items():
            print(f"compare: {name} serves the zone after {took:.1f}s", file=sys.stderr,
                  flush=True)
    server.follower = bench_secondaries.Follower(server.port, followers, bench_data.DOMAIN,
                                                 core)
    return left_out


def finish_run(server, figures):
    """After a run's load: the changes' counts, the secondaries' lag, and the time each
    takes to catch up (before the next run begins), then the threads' shares."""
    figures.update(server.changes.finish(timeout=60))
    figures.update(server.follower.finish())
    figures.update(server.follower.catch_up())
    thread_shares(figures)


def thread_shares(figures):
    """The CPU of signpostd's threads by name: the UDP workers' per query, the transfer
    thread's and the publisher's in per cent of a core."""
    threads, completed = figures["threads"], figures["completed"]
    udp = bench_measure.named_thread_cpu(threads, "dns-udp")
    figures["udp_thread_cpu_us_per_query"] = udp / completed * 1e6 if completed else None
    for prefix, key in (("dns-xfr", "xfr_thread_percent"),
                        ("publisher", "publisher_thread_percent")):
        figures[key] = bench_measure.named_thread_cpu(threads, prefix) / figures["seconds"] * 100


def fold(results):
    """Moves the pair's runs into signpostd's column (made if it was not measured) as tests
    "<test>_xfr_base" and "<test>_xfr", and, as "xfr_summary", each secondary's worst lag
    over the runs, the time it took to load the zone, the changes that failed and the worst
    loss."""
    base, full = results.pop(BASE, None), results.pop(FULL, None)
    if base is None or full is None:
        return
    result = results.setdefault("signpost", {"medians": {}, "runs": {},
                                             "octets": full["octets"]})
    for test in TESTS:
        for suffix, side in (("_xfr_base", base), ("_xfr", full)):
            result["medians"][test + suffix] = side["medians"].get(test, {})
            result["runs"][test + suffix] = side["runs"].get(test, [])
    runs = [r for test in TESTS for r in full["runs"].get(test, [])]
    both = runs + [r for test in TESTS for r in base["runs"].get(test, [])]
    summary = {"lost_percent": full["medians"]["summary"]["lost_percent"],
               "changes_failed": sum(r["hb_sent"] - r["hb_noerror"] for r in both)}
    for name, _ in FOLLOWERS:
        for figure in LAG_FIGURES:
            values = [r.get(f"{name}_{figure}", "absent") for r in runs]
            # None: a run it did not catch up in (n/a); absent: it did not load the zone.
            if values and all(isinstance(v, (int, float)) for v in values):
                summary[f"{name}_{figure}"] = max(values)
        load = full["medians"]["summary"].get(f"{name}_load_seconds")
        if load is not None:
            summary[f"{name}_load_seconds"] = load
    result["medians"]["xfr_summary"] = summary


def note(core, tests, left_out):
    """The table's setup note on the pair, which ran `tests` (keys)."""
    return (f"Zone transfer: signpostd twice more, run back to back on the tests "
            f"{', '.join(t for t in tests if t in TESTS)}, each with {bench_data.CHANGE_INSTANCES:,} instances "
            f"registered by signed UPDATE and, during every run, {CHANGES} (a weight toggled) "
            f"from core {core}: one as it is, one with a [[transfer]] of {bench_data.DOMAIN} "
            f"(TSIG, NOTIFY) followed by NSD, Knot and BIND as secondaries, pinned to core "
            f"{core}, which transferred the zone before the runs"
            + "".join(f"; {dict(FOLLOWERS)[name]} left out, {why}"
                      for name, why in left_out.items()) + ".")
