#!/usr/bin/env python3
"""report.py RESULTS_DIR - the one table (and chart) of a run.sh run.

Reads RESULTS_DIR/raw/<target>/*.json (fio JSON, fsops/lockbench JSON
lines, rados bench JSON), writes RESULTS_DIR/table.md, summary.json,
chart.dat, chart.gp and chart.png (if gnuplot is there), and prints the
table.

Ratios are datarootfs / reference for IOPS and MB/s, and reference /
datarootfs for latencies, so > 1 always means datarootfs is better.
"""
import json
import math
import os
import subprocess
import sys

RES = sys.argv[1]
RAW = os.path.join(RES, "raw")
TARGETS = ["drfs", "cephfs", "tmpfs", "rados"]
TNAME = {"drfs": "datarootfs", "cephfs": "CephFS (ceph-fuse)",
         "tmpfs": "tmpfs", "rados": "rados bench"}

# job id, headline metric, reference target, goal (ratio of the headline
# metric) or None, description
JOBS = [
    ("cachedir-create", "iops", "cephfs", 1.0,
     "open(O_EXCL)+write 1-16K+close, 4 jobs"),
    ("cachedir-stat", "iops", "cephfs", 1.0, "stat, 4 jobs"),
    ("cachedir-read", "iops", "cephfs", 1.0,
     "MUC get: stat+open+read+close, 4 jobs"),
    ("cachedir-renameover", "iops", "cephfs", 1.0,
     "MUC set: create tmp+write+close+re-read+rename over+chmod, 4 jobs"),
    ("cachedir-unlink", "iops", "cephfs", 1.0, "unlink, 4 jobs"),
    ("cachedir-mix", "iops", "cephfs", 1.0,
     "MUC mix 70% get/25% set/5% delete, 4 jobs on 2 nodes, shared keys"),
    ("localcache-create", "iops", "tmpfs", 0.8,
     "open(O_EXCL)+write 1-64K+close, 2 jobs"),
    ("localcache-read", "iops", "tmpfs", 0.8,
     "stat+open+read+close, 2 jobs"),
    ("filedir-store", "mbps", "cephfs", None,
     "filedir/ab/cd/<sha1>: unlink tmp+copy (1 MiB writes)+re-read+rename+chmod, "
     "100K-max files, 1 job, node 2"),
    ("filedir-read-cold", "mbps", "cephfs", None,
     "open+whole-file 8K reads+close of those files, fresh node-1 mount (fio)"),
    ("filedir-read-warm", "mbps", "tmpfs", 0.9,
     "the same reads again on node 1, time based (fio)"),
    ("temp-seqwrite-1M", "mbps", "rados", 0.8,
     "1 MiB sequential writes + fsync at end, one file"),
    ("temp-seqread-1M", "mbps", "rados", 0.8,
     "1 MiB sequential reads after a remount"),
    ("temp-rand4k-read", "iops", "cephfs", None, "randrw 50/50 4K: reads"),
    ("temp-rand4k-write", "iops", "cephfs", None, "randrw 50/50 4K: writes"),
    ("meta-filecreate", "iops", "cephfs", None,
     "fio filecreate, 8 jobs x own directory"),
    ("meta-filestat", "iops", "cephfs", None, "fio filestat"),
    ("meta-filedelete", "iops", "cephfs", None, "fio filedelete"),
    ("lock-roundtrip", "mean", "cephfs", None,
     "flock LOCK_EX+LOCK_UN, uncontended, one node"),
    ("lock-handoff-1node", "mean", "cephfs", None,
     "blocking LOCK_EX handoff between two processes on one node"),
    ("lock-handoff-2node", "mean", "cephfs", None,
     "blocking LOCK_EX handoff between two nodes (tmpfs: two processes)"),
]
JOBMAP = {j[0]: j for j in JOBS}


def fio_records(path):
    with open(path) as fh:
        txt = fh.read()
    # fio may print warnings before the JSON
    txt = txt[txt.index("{"):]
    d = json.loads(txt)
    out = {}
    for j in d.get("jobs", []):
        name = j["jobname"]
        sides = []
        for side in ("read", "write"):
            s = j.get(side, {})
            if s.get("total_ios", 0) > 0 or s.get("io_bytes", 0) > 0:
                sides.append(side)
        for side in sides:
            s = j[side]
            lat = s.get("clat_ns", {})
            pct = lat.get("percentile", {})
            rec = {
                "iops": s.get("iops", 0.0),
                "mbps": s.get("bw_bytes", 0) / 1e6,
                "mean_us": lat.get("mean", 0) / 1e3,
                "p50_us": pct.get("50.000000", 0) / 1e3,
                "p99_us": pct.get("99.000000", 0) / 1e3,
                "errors": j.get("error", 0),
                "ops": s.get("total_ios", 0),
            }
            if name.startswith("meta-"):
                rec["mbps"] = None  # the engines move no data
            key = name if len(sides) == 1 else f"{name}-{side}"
            out[key] = rec
    return out


def rados_record(path):
    with open(path) as fh:
        txt = fh.read()
    d = json.loads(txt[txt.index("{"):])
    return {
        "iops": float(d.get("average_iops", 0)),
        "mbps": float(d.get("bandwidth", 0)) * 1.048576,  # MiB/s -> MB/s
        "mean_us": float(d.get("average_latency", 0)) * 1e6,
        "p50_us": None,
        "p99_us": None,
        "max_us": float(d.get("max_latency", 0)) * 1e6,
        "errors": 0,
        "note": "16 ops in flight, 1 MiB objects; p99 not reported by rados bench",
    }


def json_lines(path):
    recs = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("{"):
                recs.append(json.loads(line))
    return recs


def load():
    data = {}  # (job, target) -> record
    for t in TARGETS:
        d = os.path.join(RAW, t)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            if not f.endswith(".json"):
                continue
            stem = f[:-5]
            try:
                if t == "rados" and stem.startswith("lock-"):
                    r = json_lines(p)[-1]
                    data[(stem, t)] = {
                        "iops": None, "mbps": None,
                        "mean_us": r["handoff_mean_us"],
                        "p50_us": r["handoff_p50_us"],
                        "p99_us": r["handoff_p99_us"],
                        "max_us": r["handoff_max_us"],
                        "errors": r["lost"]}
                elif t == "rados":
                    data[(stem, t)] = rados_record(p)
                elif stem.startswith("fio-"):
                    for k, v in fio_records(p).items():
                        data[(k, t)] = v
                else:
                    recs = json_lines(p)
                    if not recs:
                        continue
                    r = recs[-1]
                    rec = {k: r.get(k) for k in
                           ("iops", "mbps", "mean_us", "p50_us", "p99_us",
                            "max_us", "errors", "ops")}
                    if r.get("tool") == "lockbench":
                        rec["mbps"] = None
                        rec["iops"] = r["iops"] if r["mode"] == "roundtrip" else None
                        if r["mode"] == "handoff":
                            rec["violations"] = r["violations"]
                            rec["measured"] = r["measured"]
                            rec["n"] = r["n"]
                            rec["timeouts"] = r["timeouts"]
                    if r.get("tool") == "fsops" and r.get("op") == "stat":
                        rec["mbps"] = None
                    if r.get("tool") == "fsops" and r.get("op") == "unlink":
                        rec["mbps"] = None
                    data[(stem, t)] = rec
            except (ValueError, KeyError) as e:
                print(f"report: cannot parse {p}: {e}", file=sys.stderr)
    return data


def fmt_num(v):
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_lat(us):
    if us is None or us == 0:
        return "-"
    if us < 1000:
        return f"{us:.3g} µs"
    if us < 1e6:
        return f"{us / 1000:.3g} ms"
    return f"{us / 1e6:.3g} s"


def ratio(a, b, inverse=False):
    if a in (None, 0) or b in (None, 0):
        return None
    return b / a if inverse else a / b


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:.3g}"


def main():
    data = load()
    meta = {}
    mp = os.path.join(RES, "meta.json")
    if os.path.exists(mp):
        with open(mp) as fh:
            meta = json.load(fh)
    lines = []
    head = ("| job | target | IOPS | MB/s | mean lat | p99 lat "
            "| ratio IOPS | ratio MB/s | ratio mean | ratio p99 | goal |")
    lines.append(head)
    lines.append("|" + "---|" * 11)
    summary = []
    notes = []
    for job, metric, ref, goal, desc in JOBS:
        targets = [t for t in TARGETS if (job, t) in data]
        if not targets:
            continue
        d = data.get((job, "drfs"))
        r = data.get((job, ref))
        rat = {}
        if d and r:
            rat["iops"] = ratio(d.get("iops"), r.get("iops"))
            rat["mbps"] = ratio(d.get("mbps"), r.get("mbps"))
            rat["mean"] = ratio(d.get("mean_us"), r.get("mean_us"), True)
            rat["p99"] = ratio(d.get("p99_us"), r.get("p99_us"), True)
            rat["p50"] = ratio(d.get("p50_us"), r.get("p50_us"), True)
            if ref == "rados":
                # rados bench keeps 16 ops in flight: its latency is not
                # comparable with one synchronous stream's
                rat["mean"] = rat["p99"] = rat["p50"] = None
        head_ratio = rat.get(metric)
        if d and d.get("violations"):
            head_ratio = None
            rat = {k: None for k in rat}
        verdict = "-"
        if goal is not None:
            g = f"≥{goal:g}" + (" (aim 2)" if job.startswith("cachedir") else "")
            if head_ratio is None:
                verdict = f"{g} n/a"
            else:
                verdict = (f"{g} met" if head_ratio >= goal
                           else f"{g} **missed**")
        summary.append({"job": job, "desc": desc, "metric": metric,
                        "reference": ref, "goal": goal,
                        "ratio": head_ratio, "ratios": rat,
                        "values": {t: data[(job, t)] for t in targets},
                        "verdict": verdict})
        for t in targets:
            v = data[(job, t)]
            is_d = t == "drfs"
            tname = TNAME[t]
            if t == "rados" and job.startswith("lock-"):
                tname = "RADOS floor (write + notify)"
            name = f"**{tname}**" if t == ref else tname
            if is_d:
                cols = [fmt_ratio(rat.get("iops")), fmt_ratio(rat.get("mbps")),
                        fmt_ratio(rat.get("mean")), fmt_ratio(rat.get("p99"))]
                g = verdict
            else:
                cols = ["", "", "", ""]
                g = ""
            lines.append(f"| {job if is_d or t == targets[0] else ''} | {name} | "
                         f"{fmt_num(v.get('iops'))} | {fmt_num(v.get('mbps'))} | "
                         f"{fmt_lat(v.get('mean_us'))} | {fmt_lat(v.get('p99_us'))} | "
                         + " | ".join(cols) + f" | {g} |")
            if v.get("errors"):
                notes.append(f"{job} on {TNAME[t]}: {v['errors']} errors")
            if v.get("violations"):
                notes.append(
                    f"{job} on {TNAME[t]}: mutual exclusion violated in "
                    f"{v['violations']} of {v['n']} handoffs (flock is node-local "
                    "in datarootfs today; cluster-wide locks are in progress), so "
                    "no handoff latency exists to compare")
        for area, key in (("localcache", "localcache_policy"),
                          ("filedir", "filedir_policy")):
            if job.startswith(area) and (job, "drfs") in data:
                if meta.get(key):
                    n = (f"{area}-*: this build has the {area} policy "
                         "(node-local tmpfs area, kernel-cached)"
                         if area == "localcache" else
                         f"{area}-*: this build has the {area} policy "
                         "(filedir/ab/cd/<sha1> files are verified, immutable "
                         "and kept in the page cache across opens)")
                else:
                    n = (f"{area}-*: the {area} policy is not implemented in "
                         "this build: every path is stored in RADOS, so these "
                         "numbers are the shared-namespace baseline")
                if n not in notes:
                    notes.append(n)
    out = []
    out.append(f"Run: {meta.get('mode', '?')} mode, {meta.get('date', '?')}, "
               f"results in {RES}")
    out.append("")
    out.append("Ratios are datarootfs / reference for IOPS and MB/s and "
               "reference / datarootfs for latency: > 1 means datarootfs is "
               "better.  The reference of each job is in **bold**; the goal "
               "applies to the job's headline metric (IOPS for small-file and "
               "metadata jobs, MB/s for streaming jobs, mean latency for locks).")
    out.append("")
    out.extend(lines)
    out.append("")
    if any(j[2] == "rados" for j in JOBS):
        notes.insert(0, "rados bench keeps 16 1 MiB ops in flight: only its "
                     "MB/s is a reference; no latency ratio is given against it")
    if ("lock-handoff-2node", "rados") in data:
        notes.append("lock-handoff-2node, RADOS floor: `radosfloor`, one "
                     "replicated write_full of the object and one notify "
                     "between two librados clients, timed to the watcher's "
                     "callback: what any handoff that writes the lock "
                     "object once costs on this pool")
    if notes:
        out.append("Notes:")
        for n in notes:
            out.append(f"- {n}")
        out.append("")
    out.append("Jobs:")
    for job, metric, ref, goal, desc in JOBS:
        if any((job, t) in data for t in TARGETS):
            out.append(f"- `{job}`: {desc}")
    table = "\n".join(out) + "\n"
    with open(os.path.join(RES, "table.md"), "w") as fh:
        fh.write(table)
    with open(os.path.join(RES, "summary.json"), "w") as fh:
        json.dump({"meta": meta, "jobs": summary}, fh, indent=1)
    print(table)
    chart(summary)


def chart(summary):
    rows = [s for s in summary if s["ratio"] is not None]
    if not rows:
        return
    with open(os.path.join(RES, "chart.dat"), "w") as fh:
        fh.write("# idx job ratio goal\n")
        for i, s in enumerate(rows):
            g = s["goal"] if s["goal"] is not None else "NaN"
            ref = {"cephfs": "CephFS", "tmpfs": "tmpfs",
                   "rados": "rados"}[s["reference"]]
            fh.write(f"{i} \"{s['job']} ({s['metric']} vs {ref})\" "
                     f"{s['ratio']:.6g} {g}\n")
    lo = min(min(s["ratio"] for s in rows), 0.5)
    hi = max(max(s["ratio"] for s in rows), 2.5)
    gp = f"""set terminal pngcairo size 1500,900 font "sans,10"
set output "{os.path.join(RES, 'chart.png')}"
set title "datarootfs / reference (headline metric per job; >1 = datarootfs better)"
set logscale y
set yrange [{10 ** math.floor(math.log10(lo))}:{10 ** math.ceil(math.log10(hi))}]
set ylabel "ratio (log scale)"
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by -40 left
set grid ytics
set key top left
set bmargin 16
set rmargin 22
plot "{os.path.join(RES, 'chart.dat')}" using 1:3:xtic(2) with boxes lc rgb "#3b75af" title "datarootfs / reference", \\
     "" using 1:4 with points pt 9 ps 2 lc rgb "#d62728" title "goal", \\
     1 with lines lc rgb "black" dt 2 title "parity"
"""
    gpp = os.path.join(RES, "chart.gp")
    with open(gpp, "w") as fh:
        fh.write(gp)
    try:
        subprocess.run(["gnuplot", gpp], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report: gnuplot failed: {e}", file=sys.stderr)


main()
