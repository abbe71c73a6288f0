"""One line of a worker's report, from `stoker publish --wait --output json` (last line).

Used by ./scripts/pipeline: python3 scripts/outcome_line.py KIND < output
"""
import json
import sys

kind = sys.argv[1]
fmt = lambda v: "-" if v is None else f"{v:.2f}"
run = json.loads(sys.stdin.read().splitlines()[-1])
rep = run.get("report") or {}
if run.get("outcome") != "completed":
    print(f"{run.get('outcome')}: {run.get('error', '')}")
elif kind == "stoker.warmup.requested":
    t = rep["targets"][0]
    print(f"{t['function']}: {t['succeeded']}/{t['invoked']} pings answered by the guard, "
          f"{t['instances']} instances, {t['cold']} cold, p50 {t['latency_p50_ms']} ms")
elif kind == "stoker.rollup.measurements":
    p = rep["published"]
    print(f"{rep['samples_accepted']} samples accepted, {rep['samples_rejected']} rejected, "
          f"{p['datums']} datums in {p['calls']} PutMetricData call(s)")
elif kind == "stoker.rollup.requested":
    x = rep["rollup"]
    print(f"{x['series']} series + {x['counter_series']} counter series rolled up, "
          f"error rate {fmt(x.get('error_rate'))} %, cache hit rate {fmt(x.get('cache_hit_rate'))} %, "
          f"{x['regressions']} regression(s)")
elif kind == "stoker.cache-warm.requested":
    print(f"{rep['keys_warmed']} Redis keys and {rep['urls_warmed']} URL warmed ({rep['bytes']} bytes, "
          f"{rep['redis_round_trips']} Redis round trip(s)), {rep['failed']} failed, "
          + (f"Redis hit rate {fmt(rep.get('hit_rate_before'))} % -> {fmt(rep.get('hit_rate_after'))} %"
             if rep.get("hit_rate_after") is not None else "no Redis lookups yet (no hit rate)"))
elif kind == "stoker.backup.requested":
    parts = []
    if rep.get("native"):
        parts.append(f"native backup {rep['native']['name']}")
    if rep.get("export"):
        e = rep["export"]
        parts.append(f"export: {e['items']} items in {e['parts']} parts ({e['bytes']} bytes)")
    if rep.get("drill"):
        d = rep["drill"]
        parts.append(f"drill {'passed' if d['passed'] else 'FAILED'}: {d['restored_items']}/{d['source_items']} items, "
                     f"{d['sampled']} sampled, {d['mismatched']} differ")
    parts.append(f"pruned {len(rep['pruned_backups']) + len(rep['pruned_exports'])}")
    print("; ".join(parts))
elif kind == "stoker.optimize.requested":
    parts = []
    for f in rep["functions"]:
        swept = ", ".join(f"{s['memory_mb']} MB {s['billed_ms']:.0f} ms" for s in (f.get("sweep") or {}).get("sizes", []))
        parts.append(f"{f['function']}: {f['finding']}, {f['current_memory_mb']} -> "
                     f"{f.get('recommended_memory_mb', '-')} MB" + (f" (swept {swept})" if swept else ""))
    for t in rep.get("tables", []):
        parts.append(f"table {t['table']}: {t['recommended_mode'].replace('_', '-')}")
    print("; ".join(parts))
else:
    print(json.dumps(rep)[:100])
