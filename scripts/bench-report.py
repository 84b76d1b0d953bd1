#!/usr/bin/env python3
"""The one table `make bench` ends with, and target/bench/report.json.

Reads what the parts wrote: criterion's estimates (micro), target/bench/load.json (scripts/load.sh),
cost.json and scale.json (the api crate's cost and scale benches), lambda.json (cli's lambda_init).
A part that did not run is reported missing, never invented.

    scripts/bench-report.py <criterion dir> <bench dir>
"""
import json
import os
import sys

criterion_dir, bench_dir = sys.argv[1], sys.argv[2]

# The micro benchmarks the report names, by criterion id prefix.
MICRO = [
    ("JWT verify (RS256, full verifier, cache off)", "verify/RS256"),
    ("verified-token cache hit", "verify/verified-token cache hit"),
    ("webhook HMAC verify (1 KB)", "webhook/X-OMS-Signature verify"),
    ("order(id): parse + validate + execute (router)", "http/order(id) through the router"),
    ("order(id) with a tenant API key (router)", "http/order(id) with an API key through the router"),
    ("domain command (mark_paid, 250 lines)", "command/mark_paid"),
    ("money parse + format", "money/parse + format"),
    ("embedded store get", "embedded/get"),
    ("DynamoDB Local get", "dynamodb-local/get"),
]

TARGETS = {
    "order_peak_rps": 20000,
    "order_p99_ms_at_half_peak": 2.0,
    "create_rps_at_64": 5000,
}


def load(name):
    path = os.path.join(bench_dir, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def criterion():
    """{full id: median ns} of every criterion benchmark that has run."""
    out = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "estimates.json" not in files:
            continue
        try:
            with open(os.path.join(root, "benchmark.json")) as f:
                full_id = json.load(f)["full_id"]
            with open(os.path.join(root, "estimates.json")) as f:
                out[full_id] = json.load(f)["median"]["point_estimate"]
        except (OSError, KeyError, ValueError):
            continue
    return out


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


report = {"micro": [], "load": None, "cost": None, "scale": None, "lambda": None, "checks": []}
lines = []
say = lines.append

estimates = criterion()
say("micro (criterion, median)")
for label, prefix in MICRO:
    found = sorted(k for k in estimates if k.startswith(prefix))
    if not found:
        say(f"  {label:<52} {'(not run)':>12}")
        continue
    ns = estimates[found[0]]
    report["micro"].append({"name": label, "criterion_id": found[0], "median_ns": ns})
    say(f"  {label:<52} {fmt_ns(ns):>12}")

# An API key's read against a JWT's, in the same run: throughput ratio (JWT time / key time).
jwt = [v for k, v in estimates.items() if k.startswith("http/order(id) through the router (")]
key = [v for k, v in estimates.items() if k.startswith("http/order(id) with an API key")]
if jwt and key:
    ratio = round(jwt[0] / key[0], 3)
    report["checks"].append({"check": "order(id) with an API key, throughput vs the JWT path",
                             "value": ratio, "target": 0.9, "ok": ratio >= 0.9})

# The cost of recording metrics on the same read, in the same run (target: at most 3 %).
plain = [v for k, v in estimates.items() if k.startswith("http/order(id) through the router (")]
metered = [v for k, v in estimates.items() if k.startswith("http/order(id) through the router with metrics")]
if plain and metered:
    cost = round(metered[0] / plain[0] - 1, 4)
    report["checks"].append({"check": "order(id): cost of recording metrics (with / without - 1)",
                             "value": cost, "target": 0.03, "ok": cost <= 0.03})

loads = load("load.json")
report["load"] = loads
say("")
say("load (oms serve --release on core 0, wrk on core 1, loopback)")
if loads:
    say(f"  {'workload':<10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in loads["runs"]:
        say(f"  {r['workload']:<10} {r['connections']:>5} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}")
    half = loads.get("half_peak")
    if half:
        say(f"  order(id) at half of peak ({half['rate']:.0f} req/s offered, {half['connections']} conns): "
            f"p50 {half['p50_ms']:.2f} ms, p99 {half['p99_ms']:.2f} ms, {half['errors']} errors")
    say(f"  peak RSS of oms serve: {loads['peak_rss_mb']} MB")
    order_peak = max((r["rps"] for r in loads["runs"] if r["workload"] == "order"), default=0)
    create64 = [r for r in loads["runs"] if r["workload"] == "create" and r["connections"] == 64]
    report["checks"].append({"check": "order(id) peak req/s", "value": order_peak,
                             "target": TARGETS["order_peak_rps"], "ok": order_peak >= TARGETS["order_peak_rps"]})
    if half:
        report["checks"].append({"check": "order(id) p99 ms at half of peak", "value": half["p99_ms"],
                                 "target": TARGETS["order_p99_ms_at_half_peak"],
                                 "ok": half["p99_ms"] <= TARGETS["order_p99_ms_at_half_peak"]})
    if create64:
        c = create64[0]
        report["checks"].append({"check": "createOrder req/s at 64 connections, 0 errors", "value": c["rps"],
                                 "target": TARGETS["create_rps_at_64"],
                                 "ok": c["rps"] >= TARGETS["create_rps_at_64"] and c["errors"] == 0})
else:
    say("  (not run)")

cost = load("cost.json")
report["cost"] = cost
say("")
if cost:
    p = cost["prices"]
    say(f"cost on DynamoDB (on-demand: ${p['write_unit_per_million']}/M write units, ${p['read_unit_per_million']}/M read units)")
    say(f"  {'operation':<28} {'requests':<44} {'RCU':>6} {'WCU':>6} {'$/M ops':>9}")
    for op in cost["operations"]:
        reqs = ", ".join(f"{n} {k}" for k, n in sorted(op["requests"].items()))
        say(f"  {op['operation']:<28} {reqs:<44} {op['read_units']:>6.1f} {op['write_units']:>6.1f} {op['usd_per_million']:>9.2f}")
else:
    say("cost on DynamoDB: (not run)")

scale = load("scale.json")
report["scale"] = scale
say("")
if scale:
    say(f"scale model ({scale['tenants']} tenants, Zipf(1), largest at {scale['largest_tenant_writes_per_s']:.0f} order writes/s)")
    for r in scale["by_shards"]:
        sampled = r.get("sampled_hottest_key_wcu_per_s")
        note = f" (sample's hottest key {sampled:.0f})" if sampled is not None else ""
        say(f"  {r['shards']:>3} shards: hottest key {r.get('hottest_key', '-')} at {r['hottest_wcu_per_s']:.0f} WCU/s{note}")
    needed = scale["shards_needed"]
    say(f"  shards needed to keep every key under {scale['partition_limit_wcu_per_s']:.0f} WCU/s: {needed if needed else 'none of those tried'}")
    report["checks"].append({"check": "scale: a shard count keeps every key under the partition limit",
                             "value": needed, "ok": needed is not None})
else:
    say("scale model: (not run)")

lam = load("lambda.json")
report["lambda"] = lam
say("")
if lam:
    say(f"Lambda cold start ({lam['runs']} starts each) and size")
    for f in lam["functions"]:
        arm = f.get("arm64_mb")
        size = f"arm64 {arm:.1f} MB" if arm else f"host {f.get('host_stripped_mb', 0):.1f} MB (arm64 not built)"
        say(f"  {f['function']:<26} init p50 {f['init_p50_ms']:5.1f} ms  p90 {f['init_p90_ms']:5.1f} ms  {size}")
else:
    say("Lambda cold start: (not run)")

say("")
say("targets")
for c in report["checks"]:
    target = f" (target {c['target']})" if "target" in c else ""
    say(f"  [{'ok' if c['ok'] else 'MISSED'}] {c['check']}: {c['value']}{target}")

print("\n".join(lines))
os.makedirs(bench_dir, exist_ok=True)
with open(os.path.join(bench_dir, "report.json"), "w") as f:
    json.dump(report, f, indent=2)
print(f"written: {os.path.join(bench_dir, 'report.json')}")
