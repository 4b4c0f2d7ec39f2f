#!/usr/bin/env python3
"""rtcount.py - count the cluster round trips one filesystem call costs.

    rtcount.py ASOK MOUNT LABEL OUT.json

ASOK is the admin socket of the client process behind MOUNT (the
datarootfs daemon's librados, or ceph-fuse).  For each call below we diff
the client's perf counters: objecter `op` (RADOS ops sent to OSDs; `op_r`,
`op_w` split) and, for ceph-fuse, `client.reply` (MDS requests).  Counters
are process-wide: nothing else may use the mount while this runs, and the
daemon's own background work (lease renewal, deferred frees) would count
too, so we wait until the counters are idle and keep the minimum over
several repetitions.
Each call is made at two depths: a file at the mount root's child
(`rt/f`) and at Moodle's MUC depth
(`cache/cachestore_file/default_application/core_rt/abc-cache/key.cache`).
"""
import json
import os
import subprocess
import sys

asok, mnt, label, out = sys.argv[1:5]


def counters():
    p = json.loads(subprocess.check_output(
        ["ceph", "--admin-daemon", asok, "perf", "dump"]))
    o = p["objecter"]
    return {"op": o["op"], "op_r": o["op_r"], "op_w": o["op_w"],
            "mds": p.get("client", {}).get("reply", {}).get("avgcount", 0)}


import time

rows = []


def wait_idle(timeout=20.0):
    """Until the counters stand still for 1 s (or timeout)."""
    end = time.time() + timeout
    a = counters()
    while time.time() < end:
        time.sleep(1.0)
        b = counters()
        if a == b:
            return
        a = b
DATA = os.urandom(8192)
BIG = os.urandom(1 << 20)


def meas(name, fn, reps=5):
    """Fewest ops over reps (background work only ever adds); the setup
    part of fn is not counted."""
    best = None
    for i in range(reps):
        setup, call = fn(i)
        if setup:
            setup()
        a = counters()
        call()
        b = counters()
        d = {k: b[k] - a[k] for k in a}
        if best is None or d["op"] + d["mds"] < best["op"] + best["mds"]:
            best = d
    rows.append({"call": name, **best})


def write_file(path, data=DATA, flags=os.O_CREAT | os.O_WRONLY | os.O_TRUNC):
    fd = os.open(path, flags, 0o666)
    os.write(fd, data)
    os.close(fd)


def read_file(path):
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)


def calls(d, depth):
    os.makedirs(d, exist_ok=True)
    f = d + "/k.cache"
    write_file(f)
    meas(f"stat existing ({depth})", lambda i: (None, lambda: os.stat(f)))

    def stat_missing():
        try:
            os.stat(d + "/missing")
        except FileNotFoundError:
            pass
    meas(f"stat missing ({depth})", lambda i: (None, stat_missing))
    meas(f"create+write 8K+close, O_EXCL ({depth})",
         lambda i: (None, lambda: write_file(
             f"{d}/c{i}.temp", flags=os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
    meas(f"open+read 8K+close ({depth})", lambda i: (None, lambda: read_file(f)))
    meas(f"rename over existing ({depth})",
         lambda i: (lambda: write_file(f"{d}/r{i}.temp"),
                    lambda: os.rename(f"{d}/r{i}.temp", f)))
    meas(f"chmod ({depth})", lambda i: (None, lambda: os.chmod(f, 0o666)))
    meas(f"unlink ({depth})",
         lambda i: (None, lambda: os.unlink(f"{d}/c{i}.temp")))
    meas(f"mkdir ({depth})", lambda i: (None, lambda: os.mkdir(f"{d}/dir{i}")))
    meas(f"rmdir ({depth})", lambda i: (None, lambda: os.rmdir(f"{d}/dir{i}")))

    def muc_get():
        os.stat(f)
        read_file(f)
    meas(f"MUC get: stat+open+read+close ({depth})",
         lambda i: (None, muc_get))

    def muc_set(i):
        def run():
            t = f"{d}/u{i}.temp"
            write_file(t, flags=os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            read_file(t)
            os.rename(t, f)
            os.chmod(f, 0o666)
        return None, run
    meas(f"MUC set: create+write+close+reread+rename+chmod ({depth})", muc_set)


wait_idle()
calls(mnt + "/rt", "depth 2")
calls(mnt + "/cache/cachestore_file/default_application/core_rt/abc-cache",
      "depth 6")
big = mnt + "/rt/big"


def wbig():
    fd = os.open(big, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
    for _ in range(8):
        os.write(fd, BIG)
    os.close(fd)


meas("write 8 MiB in 1 MiB writes + close (depth 2)",
     lambda i: (None, wbig), reps=1)
meas("read 8 MiB in 1 MiB reads (depth 2)",
     lambda i: (lambda: subprocess.run(
         ["sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"]),
         lambda: read_file(big)), reps=1)

# filedir: a content-addressed file (Moodle: copy to h.tmp, rename to h),
# then warm whole-file reads in PHP's 8 KiB chunks and in 1 MiB chunks.
import hashlib
content = os.urandom(4 << 20)
h = hashlib.sha1(content).hexdigest()
fdir = f"{mnt}/filedir/{h[:2]}/{h[2:4]}"
os.makedirs(fdir, exist_ok=True)
write_file(f"{fdir}/{h}.tmp", content)
os.rename(f"{fdir}/{h}.tmp", f"{fdir}/{h}")


def read_chunks(path, chunk):
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, chunk):
        pass
    os.close(fd)


read_chunks(f"{fdir}/{h}", 1 << 20)  # warm it
meas("filedir file 4 MiB, warm: open+read in 8 KiB chunks+close",
     lambda i: (None, lambda: read_chunks(f"{fdir}/{h}", 8192)))
meas("filedir file 4 MiB, warm: open+read in 1 MiB chunks+close",
     lambda i: (None, lambda: read_chunks(f"{fdir}/{h}", 1 << 20)))

# localcache (node-local area in datarootfs builds that have it)
lcd = mnt + "/localcache/theme/1700000000/boost/pix"
os.makedirs(lcd, exist_ok=True)
meas("localcache: create+write 8K+close (depth 6)",
     lambda i: (None, lambda: write_file(
         f"{lcd}/c{i}.png", flags=os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
meas("localcache: stat+open+read+close (depth 6)",
     lambda i: (None, lambda: (os.stat(f"{lcd}/c0.png"),
                               read_file(f"{lcd}/c0.png"))))

with open(out, "w") as fh:
    json.dump({"label": label, "rows": rows}, fh, indent=1)
w = max(len(r["call"]) for r in rows)
print(f"# cluster round trips per call: {label}")
print(f"{'call':{w}s}  rados(r+w)  mds")
for r in rows:
    print(f"{r['call']:{w}s}  {r['op']:4d} ({r['op_r']}+{r['op_w']})  {r['mds']:4d}")
