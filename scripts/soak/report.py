"""The soak's Markdown report and verdict (scripts/soak.sh).

    report.py DIR

DIR holds what soak.sh gathered: meta.json (the run's settings, whether
the proxy is still alive, panics in its log), metrics-before.txt and
metrics-after.txt (the admin /metrics at the two measuring points),
proc-before.json and proc-after.json (RSS and descriptors), samples.tsv
(RSS, descriptors and gauges every few seconds), attacks.jsonl,
clients.jsonl, curl.txt and load.txt (what each traffic source saw).

Prints the report on stdout. Exits 1 when the verdict is a failure:
descriptors grew by more than the slack, the live heap
(mirrorgate_allocator_allocated_bytes) or RSS by more than its bound, an
in-flight or open-connections gauge is not back to 0, the proxy died or
panicked. Counters are shown for the measured phase (after minus
before), the part of the run between the two measuring points.
"""

import json
import os
import re
import sys
from collections import Counter, defaultdict

from prometheus_client.openmetrics.parser import text_string_to_metric_families

root = sys.argv[1]


def path(name):
    return os.path.join(root, name)


def load_json(name):
    with open(path(name)) as f:
        return json.load(f)


def jsonl(name):
    if not os.path.exists(path(name)):
        return []
    with open(path(name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def samples(name):
    """{(sample name, frozen labels): value} of a /metrics text."""
    with open(path(name)) as f:
        text = f.read()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


meta = load_json("meta.json")
before, after = samples("metrics-before.txt"), samples("metrics-after.txt")
proc_before, proc_after = load_json("proc-before.json"), load_json("proc-after.json")


def grouped(metrics, name, keys):
    """Sum of the samples of `name` grouped by the label values `keys`."""
    out = Counter()
    for (sample, labels), value in metrics.items():
        if sample == name:
            labels = dict(labels)
            out[tuple(labels.get(k, "") for k in keys)] += value
    return out


def delta(name, keys):
    a, b = grouped(after, name, keys), grouped(before, name, keys)
    return Counter({k: a[k] - b.get(k, 0) for k in a})


def n(v):
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


out = []
say = out.append
failures = []

# --- the verdict's inputs -----------------------------------------------------
fd_growth = proc_after["fds"] - proc_before["fds"]
rss_growth_kib = proc_after["rss_kib"] - proc_before["rss_kib"]
rss_bound_kib = meta["rss_bound_mib"] * 1024
heap_growth = proc_after.get("heap_bytes", 0) - proc_before.get("heap_bytes", 0)
heap_bound = meta["heap_bound_mib"] * 1024 * 1024
if not meta["alive"]:
    failures.append("the proxy is not running at the end")
if meta["panics"]:
    failures.append(f"{meta['panics']} panic line(s) in the proxy's log")
if fd_growth > meta["fd_slack"]:
    failures.append(f"descriptors grew by {fd_growth} (slack {meta['fd_slack']})")
if not proc_before.get("heap_bytes") or (meta["alive"] and not proc_after.get("heap_bytes")):
    failures.append("the live heap could not be read (mirrorgate_allocator_allocated_bytes)")
if heap_growth > heap_bound:
    failures.append(f"the live heap grew by {heap_growth / 2**20:.1f} MiB (bound {meta['heap_bound_mib']} MiB)")
if rss_growth_kib > rss_bound_kib:
    failures.append(f"RSS grew by {rss_growth_kib / 1024:.1f} MiB (bound {meta['rss_bound_mib']} MiB)")
gauges = []
for name, keys in [
    ("mirrorgate_requests_in_flight", ["protocol"]),
    ("mirrorgate_connections_open", ["protocol"]),
    ("mirrorgate_mirror_in_flight", ["service", "mirror"]),
]:
    for k, v in sorted(grouped(after, name, keys).items()):
        gauges.append((name.removeprefix("mirrorgate_"), "/".join(k), n(v)))
        if v != 0:
            failures.append(f"{name}{{{','.join(k)}}} is {n(v)} after the settle")

# --- the report -------------------------------------------------------------------
say(f"# mirrorgate soak, {meta['started']}")
say("")
say(meta["machine"])
say(
    f"mirrorgate {meta['version']} (release). Warm-up {meta['warmup']} s of the full mix, "
    f"then {meta['duration']} s measured, each followed by a {meta['settle']} s settle "
    "(longer than every idle and request timeout of the soak config)."
)
say(f"Traffic sources: {meta['sources']}.")
say("")
say("## Verdict: " + ("**PASS**" if not failures else "**FAIL**"))
say("")
for f in failures:
    say(f"- {f}")
if failures:
    say("")
say(table(
    ["proxy", "before (after warm-up + settle)", "after (after traffic + settle)", "growth", "allowed"],
    [
        ["live heap (jemalloc stats.allocated)", f"{proc_before.get('heap_bytes', 0) / 2**20:.1f} MiB",
         f"{proc_after.get('heap_bytes', 0) / 2**20:.1f} MiB", f"{heap_growth / 2**20:+.1f} MiB",
         f"{meta['heap_bound_mib']} MiB"],
        ["RSS (VmRSS)", f"{proc_before['rss_kib'] / 1024:.1f} MiB", f"{proc_after['rss_kib'] / 1024:.1f} MiB",
         f"{rss_growth_kib / 1024:+.1f} MiB", f"{meta['rss_bound_mib']} MiB"],
        ["open descriptors", proc_before["fds"], proc_after["fds"], f"{fd_growth:+d}", meta["fd_slack"]],
        ["peak RSS during the run", "", f"{meta['peak_rss_kib'] / 1024:.1f} MiB", "", ""],
        ["peak descriptors during the run", "", meta["peak_fds"], "", ""],
        ["alive at the end / panics in the log", "", f"{'yes' if meta['alive'] else 'NO'} / {meta['panics']}", "", ""],
    ],
))
say("")
measured_conns = sum(delta("mirrorgate_connections_total", ["protocol"]).values())
measured_reqs = sum(delta("mirrorgate_requests_total", ["protocol"]).values())
bound_bytes = meta["heap_bound_mib"] * 1024 * 1024
say(
    "How leaks are judged: both measuring points are idle (every connection closed, every timeout "
    "of the soak config passed), and \"before\" comes after a warm-up of this same mix. The leak "
    "check is the live heap, jemalloc's stats.allocated (bytes allocated and not yet freed, "
    "mirrorgate_allocator_allocated_bytes in /metrics): what the measured phase kept. RSS is "
    "not the check: the allocator keeps freed pages for a while and hands them back unevenly, so "
    "RSS creeps up with traffic although nothing is kept (under glibc's malloc, 300 s of this mix "
    "raised RSS by 21.5 MiB, steadily, while the live heap moved by 0.1 MiB). RSS only has a "
    "loose bound that a gross leak passes. "
    f"This phase accepted {n(measured_conns)} connections and {n(measured_reqs)} requests, so the heap bound "
    f"is {bound_bytes / max(1, measured_conns):,.0f} bytes per connection or "
    f"{bound_bytes / max(1, measured_reqs):,.0f} per request."
)
say("")
say(table(["gauge after the settle", "labels", "value"], gauges))
say("")

say("## Traffic in the measured phase (from /metrics)")
say("")
conns = delta("mirrorgate_connections_total", ["protocol"])
reqs = delta("mirrorgate_requests_total", ["protocol"])
resp = delta("mirrorgate_responses_total", ["protocol", "backend", "status_class"])
classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
rows = []
for proto in sorted({k[0] for k in resp} | {k[0] for k in reqs}):
    for who, match in [("backend", lambda b: b != "-"), ("mirrorgate itself", lambda b: b == "-")]:
        counts = {c: sum(v for (p, b, c2), v in resp.items() if p == proto and match(b) and c2 == c) for c in classes}
        if sum(counts.values()):
            rows.append([proto, who] + [n(counts[c]) for c in classes])
say(table(["protocol", "answered by", *classes], rows))
say("")
say(table(
    ["protocol", "requests", "connections accepted"],
    [[p, n(reqs.get((p,), 0)), n(conns.get((p,), 0))] for p in sorted({k[0] for k in reqs} | {k[0] for k in conns})],
))
say("")
fails = delta("mirrorgate_tls_handshake_failures_total", ["transport", "reason"])
if fails:
    say("TLS/QUIC handshake failures: " + ", ".join(f"{t} {r}: {n(v)}" for (t, r), v in sorted(fails.items()) if v))
    say("")

say("## Limits hit (`mirrorgate_limit_hits_total`)")
say("")
hits = delta("mirrorgate_limit_hits_total", ["protocol", "limit"])
total_hits = grouped(after, "mirrorgate_limit_hits_total", ["protocol", "limit"])
say(table(
    ["protocol", "limit", "measured phase", "whole run"],
    [[p, f"`{lim}`", n(v), n(total_hits[(p, lim)])] for (p, lim), v in sorted(total_hits.items())],
))
say("")

say("## Mirrors (measured phase)")
say("")
mirror_rows = defaultdict(dict)
for name, col in [("mirrorgate_mirror_sampled_total", "sampled"), ("mirrorgate_mirror_sent_total", "sent")]:
    for (svc, m), v in delta(name, ["service", "mirror"]).items():
        mirror_rows[m][col] = n(v)
for name, col in [("mirrorgate_mirror_completed_total", "completed"), ("mirrorgate_mirror_failed_total", "failed"),
                  ("mirrorgate_mirror_dropped_total", "dropped")]:
    for (svc, m, outcome), v in sorted(delta(name, ["service", "mirror", "outcome"]).items()):
        if v:
            mirror_rows[m][col] = (mirror_rows[m].get(col, "") + f" {outcome}: {n(v)}").strip()
say(table(
    ["mirror", "sampled", "sent", "completed", "failed", "dropped"],
    [[m, r.get("sampled", "0"), r.get("sent", "0"), r.get("completed", ""), r.get("failed", ""), r.get("dropped", "")]
     for m, r in sorted(mirror_rows.items())],
))
say("")
say(
    "staging: nginx over h2c, 50% of requests. blackhole: accepts and never reads, 100%, "
    "HTTP/1.1, max_in_flight 64 and request_timeout 2 s: most copies are dropped as overload, "
    "the rest time out. refused: a closed port, 10%: copies fail to connect. None of them may "
    "change what clients get (the tables above)."
)
say("")

say("## What the clients saw (warm-up and measured phase)")
say("")
if os.path.exists(path("load.txt")):
    with open(path("load.txt")) as f:
        say(table(["load generator", "requests", "non-2xx or errors"], [line.rstrip("\n").split("\t") for line in f if line.strip()]))
    say("")
curl, errors = Counter(), Counter()
if os.path.exists(path("curl.txt")):
    with open(path("curl.txt")) as f:
        for line in f:
            label, code, error = (line.rstrip("\n").split("\t") + ["", ""])[:3]
            curl[(label, code)] += 1
            if error:
                # "timed out after 301 milliseconds": one row, not one per number.
                errors[(label, code, re.sub(r"\d+", "N", error))] += 1
by_label = defaultdict(list)
for (label, code), v in sorted(curl.items()):
    by_label[label].append(f"{code}: {v}")
say(table(["curl requests", "statuses (000: no answer)"],
          [[label, ", ".join(codes)] for label, codes in sorted(by_label.items())]))
say("")
if errors:
    say(table(["curl request that failed", "last status", "curl's error", "times"],
              [[label, code, error, v] for (label, code, error), v in sorted(errors.items())]))
    say("")
for c in jsonl("clients.jsonl"):
    if "mode" in c:
        what = {"headers": "slowloris (head one byte a second)", "body": "slow bodies (half stalled, half trickling)"}[c["mode"]]
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(c["outcomes"].items()))
        say(f"- {what}: {c['connections']} connections; ended by {outcomes}")
    elif "attempts" in c:
        cases = "; ".join(f"{k} → " + ", ".join(f"{s}×{v}" for s, v in sorted(st.items())) for k, st in c["cases"].items())
        say(f"- HTTP/1.1 smuggling attempts: {c['attempts']}; {cases}")
say("")


def outcome(rec):
    """What the proxy did to one attack run, in a few words."""
    r = rec.get("last") or {}
    if rec["rc"] == "timeout":
        return "attack script timed out"
    parts = []
    if rec["family"] == "h2":
        if r.get("goaway"):
            parts.append(f"GOAWAY {r['goaway']}" + (f" ({r['goaway_debug']})" if r.get("goaway_debug") else ""))
        statuses = sorted(set(str(s) for s in r.get("responses", {}).values()))
        if statuses:
            parts.append("answered " + "/".join(statuses))
        parts.append("closed" if r.get("closed") else "left open")
    else:
        if "stalled_first_packets" in r:
            parts.append("first answers " + "/".join(sorted(set(str(p) for p in r["stalled_first_packets"]))))
        if "retry_packets" in r:
            parts.append(f"then request {r.get('status')} after {r['retry_packets']} Retry")
        if "established" in r and "closes" in r:
            codes = sorted(set(hex(c["error_code"]) for c in r["closes"]))
            parts.append(f"{r['established']} established, {len(r['closes'])} closed {'/'.join(codes)}".rstrip())
            if "still_open" in r:
                parts.append(f"{r['still_open']} open after the hold")
        if "packets" in r and "stalled_first_packets" not in r and "statuses" not in r and "outcome" not in r:
            ratio = r["bytes_received"] / max(1, r["bytes_sent"])
            parts.append(f"sent back {ratio:.2f}x before validation")
        if r.get("statuses"):
            parts.append("statuses " + ", ".join(f"{k}×{v}" for k, v in sorted(r["statuses"].items())))
        o = r.get("outcome")
        if o:
            parts.append(", ".join(f"{k} {hex(v) if k != 'status' and isinstance(v, int) else v}" for k, v in sorted(o.items())
                                   if k in ("status", "reset", "stop_sending")))
        if r.get("uni_stopped"):
            parts.append(f"{r['uni_stopped']} uni streams stopped")
        if isinstance(r.get("closed"), dict):
            parts.append(f"connection closed {hex(r['closed']['error_code'])}")
    if rec["rc"] not in (0, "0"):
        parts.append(f"script exit {rec['rc']}")
    return "; ".join(p for p in parts if p)


say("## Attacks (warm-up and measured phase)")
say("")
runs = defaultdict(Counter)
order = []
for rec in jsonl("attacks.jsonl"):
    key = (rec["family"], rec["attack"])
    if key not in runs:
        order.append(key)
    runs[key][outcome(rec)] += 1
say(table(["attack", "runs", "what the proxy did (× runs)"],
          [[f"{fam}: {name}", sum(runs[(fam, name)].values()),
            "<br>".join(f"{o} ×{v}" for o, v in runs[(fam, name)].most_common())] for fam, name in order]))
say("")

say("## RSS and descriptors over time")
say("")
with open(path("samples.tsv")) as f:
    rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
# At most about 40 rows (the peaks above are over all of them), and the
# last row, the state after the settle.
step = max(1, len(rows) // 40)
rows = rows[::step] + ([rows[-1]] if rows and (len(rows) - 1) % step else [])
say(f"Sampled every {5 * step} s.")
say("")
say(table(["t (s)", "phase", "RSS (MiB)", "fds", "connections open", "requests in flight", "mirror copies in flight"],
          [[t, phase, f"{int(rss) / 1024:.1f}", fds, c, i, m] for t, phase, rss, fds, c, i, m in rows]))
say("")
if meta.get("log_summary"):
    say("## The proxy's log (WARN and above, by message)")
    say("")
    say("```")
    say(meta["log_summary"].rstrip())
    say("```")
    say("")

print("\n".join(out))
sys.exit(1 if failures else 0)
