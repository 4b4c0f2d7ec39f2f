#!/usr/bin/env python3
"""workload.py - a Moodle-like mixed workload for the fault tests.

    workload.py run    --mnt DIR --node NAME --out DIR --stop FILE [options]
    workload.py verify --mnt DIR --out DIR [--written]

run: worker threads, each a Moodle access pattern (see
../../../shared/moodle-access-patterns.md), work in the mount (relative to
it: the process chdirs there, so after the daemon is gone every call fails
with ENOTCONN instead of landing in the bare mount point):

  filedir  add_file_to_pool: write <sha1>.tmp, close, rename into
           filedir/ab/cd/<sha1>, chmod; old files are moved to trashdir/
           (Moodle's delete) and trash is emptied (unlink)
  muc      MUC file store: O_EXCL .temp, write, re-read, rename over
           cache/muc/<node>/k<n>.cache, read the key back
  append   open(O_APPEND)+write+close of log lines in temp/logs/
  small    many small files (2-3 buffered writes each) in sessions/<node>/
  big      4-12 MiB files in 1 MiB writes, fsync every 8 MiB (temp/big/)
  holder   one file kept open, a small write every 50 ms, never closed
  lock     flock(LOCK_EX), read counter, write counter+1, unlock on a file
           shared by every node (PHP sessions): the sum must be exact
  reader   re-reads this node's files (checksum)
  xreader  reads what the OTHER nodes recorded (their manifests), through
           this node's mount: what one node closed, the other one sees

Every operation is recorded in OUT/<node>.<worker> only after it returned
(close, fsync, rename), so the manifest is what the application was told is
done.  Counters (operations attempted, completed, errors by kind, bytes
written and verified, the longest operation) go to OUT/<node>.progress
twice a second and OUT/<node>.summary at the end.

--hold FILE: while FILE exists, every worker finishes its current step and
waits, nothing open and nothing in flight (the holder keeps its one fd
open: it fsyncs once, then writes nothing) until FILE is removed; the
progress file's "held" counts the workers waiting so, of "workers".  For
idle measurements of the daemons in the middle of a run (t1030).  Stop
and --duration end a held workload as a running one.

verify: reads every manifest in OUT and checks the final state through the
mount: every closed file with its SHA-1, trash moves, MUC keys, append logs
(prefix), the lock counter (exact), and with --written also the data of
files still open when the daemon stopped (write() returned: a clean
shutdown must have flushed it).  Prints "key value" lines and the first
problems; exits 1 if there are any.
"""
import argparse
import errno
import fcntl
import glob
import hashlib
import json
import os
import random
import sys
import threading
import time

MiB = 1 << 20


def sha1(b):
    return hashlib.sha1(b).hexdigest()


def write_all(fd, data):
    """write() until all of data is written (a short write is legal)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = 0
        self.ok = 0
        self.errors = {}  # "op:ERRNO" -> count
        self.bad = 0  # wrong data read back (never allowed)
        self.samples = []
        self.written = 0
        self.verified = 0
        self.vfiles = 0
        self.max_lat = 0.0
        self.max_lat_op = ''
        self.inflight = {}  # thread -> (op, start)
        self.held = 0  # workers waiting for the hold file to go
        self.workers = 0

    def snapshot(self):
        now = time.monotonic()
        with self.lock:
            oldest = max([now - s for _, s in self.inflight.values()],
                         default=0.0)
            return {
                'time': time.time(), 'attempted': self.attempted,
                'ok': self.ok, 'errors': sum(self.errors.values()),
                'errors_by_kind': dict(self.errors), 'bad': self.bad,
                'bytes_written': self.written,
                'bytes_verified': self.verified,
                'files_verified': self.vfiles,
                'max_latency': round(self.max_lat, 3),
                'max_latency_op': self.max_lat_op,
                'inflight': len(self.inflight),
                'held': self.held, 'workers': self.workers,
                'oldest_inflight': round(oldest, 3),
                'samples': self.samples[:20],
            }


class Worker(threading.Thread):
    kind = ''

    def __init__(self, wl, idx):
        super().__init__(daemon=True)
        self.wl, self.idx = wl, idx
        self.st = wl.stats
        self.rnd = random.Random('%s-%s-%d-%f' % (wl.node, self.kind, idx,
                                                  time.time()))
        self.mf = open(os.path.join(wl.out, '%s.%s%d' % (wl.node, self.kind,
                                                         idx)), 'a')

    def rec(self, *f):
        self.mf.write(' '.join(str(x) for x in f) + '\n')
        self.mf.flush()

    def op(self, name, fn, *a):
        """One logical operation: counted, timed, errors recorded."""
        st = self.st
        t0 = time.monotonic()
        with st.lock:
            st.attempted += 1
            st.inflight[self.name] = (name, t0)
        try:
            r = fn(*a)
        except OSError as e:
            lat = time.monotonic() - t0
            with st.lock:
                st.inflight.pop(self.name, None)
                k = '%s:%s' % (name, errno.errorcode.get(e.errno, e.errno))
                st.errors[k] = st.errors.get(k, 0) + 1
                if len(st.samples) < 50:
                    st.samples.append('%.3f %s %s (after %.1f s)' % (
                        time.time(), k, e.filename or '', lat))
            time.sleep(0.2)
            return None
        lat = time.monotonic() - t0
        with st.lock:
            st.inflight.pop(self.name, None)
            st.ok += 1
            if lat > st.max_lat:
                st.max_lat, st.max_lat_op = lat, name
        return r if r is not None else True

    def bad(self, msg):
        with self.st.lock:
            self.st.bad += 1
            if len(self.st.samples) < 50:
                self.st.samples.append('%.3f WRONG DATA %s' % (time.time(),
                                                               msg))

    def add_written(self, n):
        with self.st.lock:
            self.st.written += n

    def add_verified(self, n):
        with self.st.lock:
            self.st.verified += n
            self.st.vfiles += 1

    def stopped(self):
        return self.wl.stopped()

    def hold(self, before=None):
        """While the hold file exists: wait, counted in "held".  Called
        between steps only (nothing open, nothing in flight); before() runs
        first, once, if there is a hold.  Returns at once without --hold."""
        if not self.wl.held():
            return
        if before:
            before()
        with self.st.lock:
            self.st.held += 1
        try:
            while self.wl.held() and not self.stopped():
                time.sleep(0.1)
        finally:
            with self.st.lock:
                self.st.held -= 1

    def run(self):
        try:
            while not self.stopped():
                self.step()
                if self.wl.pause:
                    time.sleep(self.wl.pause * self.rnd.random() * 2)
                self.hold()
        except Exception as e:  # a bug in the workload itself
            self.bad('worker %s crashed: %r' % (self.name, e))
        self.mf.close()

    def write_file(self, path, data, flags, chunk=MiB, fsync=False):
        fd = os.open(path, flags, 0o644)
        try:
            for off in range(0, len(data), chunk):
                write_all(fd, data[off:off + chunk])
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self.add_written(len(data))

    def read_file(self, path):
        with open(path, 'rb') as f:
            return f.read()

    def unlink_oldest(self, paths):
        os.unlink(paths[0])
        self.rec('D', paths[0])
        paths.pop(0)


def pick_size(rnd):
    r = rnd.random()
    if r < 0.6:
        return rnd.randint(1, 64) * 1024 - rnd.randint(0, 1023)
    if r < 0.95:
        return rnd.randint(64 * 1024, 512 * 1024)
    return rnd.randint(MiB, 5 * MiB)


class Filedir(Worker):
    kind = 'filedir'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.live, self.trash = [], []

    def step(self):
        rnd = self.rnd
        if len(self.live) > self.wl.max_files:
            self.op('filedir-trash', self.to_trash)
            return
        if len(self.trash) > self.wl.max_files // 2:
            self.op('trash-unlink', self.unlink_trash)
            return
        data = rnd.randbytes(pick_size(rnd))
        self.op('filedir-add', self.add, data)

    def add(self, data):
        h = sha1(data)
        d = 'filedir/%s/%s' % (h[:2], h[2:4])
        os.makedirs(d, exist_ok=True)
        tmp, final = '%s/%s.tmp' % (d, h), '%s/%s' % (d, h)
        self.write_file(tmp, data, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.rename(tmp, final)
        self.rec('F', final, h, len(data))
        os.chmod(final, 0o666)
        with self.wl.lock:
            self.wl.own.append((final, h, len(data)))
        self.live.append((final, h, len(data)))

    def to_trash(self):
        final, h, size = self.live[0]
        d = 'trashdir/%s/%s' % (h[:2], h[2:4])
        os.makedirs(d, exist_ok=True)
        with self.wl.lock:  # the readers must not pick it any more
            self.wl.moving.add(final)
        os.rename(final, '%s/%s' % (d, h))
        self.rec('T', final, '%s/%s' % (d, h), h, size)
        self.live.pop(0)
        self.trash.append(('%s/%s' % (d, h), h, size))
        with self.wl.lock:
            self.wl.own = [x for x in self.wl.own if x[0] != final]

    def unlink_trash(self):
        path = self.trash[0][0]
        os.unlink(path)
        self.rec('D', path)
        self.trash.pop(0)


class Muc(Worker):
    kind = 'muc'

    def step(self):
        self.op('muc-set', self.put)

    def put(self):
        rnd = self.rnd
        d = 'cache/muc/%s' % self.wl.node
        os.makedirs(d, exist_ok=True)
        data = rnd.randbytes(rnd.randint(100, 16384))
        h = sha1(data)
        key = '%s/k%d-%d.cache' % (d, self.idx, rnd.randrange(8))
        tmp = '%s/%d%d.temp' % (d, rnd.randrange(10**9), os.getpid())
        self.write_file(tmp, data, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        back = self.read_file(tmp)
        if sha1(back) != h:
            self.bad('%s: re-read differs' % tmp)
        self.rec('m', key, h)
        os.rename(tmp, key)
        self.rec('M', key, h)
        back = self.read_file(key)
        if sha1(back) != h:
            self.bad('%s: read after rename differs' % key)
        else:
            self.add_verified(len(back))


class Append(Worker):
    kind = 'append'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.n, self.seq, self.h, self.len = 0, 0, hashlib.sha1(), 0

    def step(self):
        self.op('append', self.append)

    def append(self):
        os.makedirs('temp/logs', exist_ok=True)
        if self.len > 256 * 1024:
            self.n, self.h, self.len = self.n + 1, hashlib.sha1(), 0
            if self.n >= 8:
                old = 'temp/logs/%s-%s-%d-%d.log' % (
                    self.wl.node, self.wl.run, self.idx, self.n - 8)
                os.unlink(old)
                self.rec('D', old)
        path = 'temp/logs/%s-%s-%d-%d.log' % (self.wl.node, self.wl.run,
                                              self.idx, self.n)
        self.seq += 1
        line = ('%s %d %s\n' % (self.wl.node, self.seq,
                                self.rnd.randbytes(
                                    self.rnd.randint(10, 200)).hex())).encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            write_all(fd, line)
        finally:
            os.close(fd)
        self.add_written(len(line))
        self.h.update(line)
        self.len += len(line)
        self.rec('A', path, self.len, self.h.hexdigest())


class Small(Worker):
    kind = 'small'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.n, self.files = 0, []

    def step(self):
        if len(self.files) > 300:
            self.op('small-unlink', self.unlink_oldest, self.files)
            return
        self.op('small', self.small)

    def small(self):
        d = 'sessions/%s' % self.wl.node
        os.makedirs(d, exist_ok=True)
        self.n += 1
        path = '%s/sess_%s_%d_%d' % (d, self.wl.run, self.idx, self.n)
        parts = [self.rnd.randbytes(self.rnd.randint(200, 3000))
                 for _ in range(self.rnd.randint(2, 3))]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for p in parts:
                write_all(fd, p)
        finally:
            os.close(fd)
        data = b''.join(parts)
        self.add_written(len(data))
        self.rec('F', path, sha1(data), len(data))
        self.files.append(path)


class Big(Worker):
    kind = 'big'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.n, self.files = 0, []

    def step(self):
        if len(self.files) > 2:
            self.op('big-unlink', self.unlink_oldest, self.files)
            return
        self.op('big', self.big)

    def big(self):
        os.makedirs('temp/big', exist_ok=True)
        self.n += 1
        path = 'temp/big/%s-%s-%d-%d' % (self.wl.node, self.wl.run, self.idx,
                                           self.n)
        size = self.rnd.randint(4, self.wl.big_mib) * MiB
        h = hashlib.sha1()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            off = 0
            while off < size:
                if self.stopped():
                    return  # cut short: no 'F' record
                chunk = self.rnd.randbytes(MiB)
                write_all(fd, chunk)
                off += len(chunk)
                h.update(chunk)
                self.add_written(len(chunk))
                self.rec('W', path, off, h.hexdigest())
                if self.wl.big_pause:
                    time.sleep(self.wl.big_pause)
                if off % (8 * MiB) == 0:
                    os.fsync(fd)
                    self.rec('S', path, off, h.hexdigest())
        finally:
            os.close(fd)
            self.files.append(path)
        if off == size:
            self.rec('F', path, h.hexdigest(), size)


class Holder(Worker):
    kind = 'holder'

    def run(self):
        os.makedirs('temp/open', exist_ok=True)
        path = 'temp/open/%s-%s-%d' % (self.wl.node, self.wl.run, self.idx)
        h, off = hashlib.sha1(), 0
        fd = self.op('holder-open', os.open, path,
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if fd is None:
            return
        def sync():  # held: what it buffered goes out, then no writes
            if self.op('holder-fsync', os.fsync, fd):
                self.rec('S', path, off, h.hexdigest())
        while not self.stopped():
            self.hold(sync)
            if self.stopped():
                break
            chunk = self.rnd.randbytes(self.rnd.randint(100, 20000))
            if self.op('holder-write', write_all, fd, chunk) is None:
                break
            off += len(chunk)
            h.update(chunk)
            self.add_written(len(chunk))
            self.rec('W', path, off, h.hexdigest())
            time.sleep(0.05)
        # not closed on purpose while running: what write() accepted must
        # survive a clean shutdown of the daemon
        if self.op('holder-close', os.close, fd):
            self.rec('F', path, h.hexdigest(), off)
        self.mf.close()


class Lock(Worker):
    kind = 'lock'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.incs, self.last = 0, -1

    def step(self):
        self.op('lock-incr', self.incr)

    def incr(self):
        os.makedirs('sessions', exist_ok=True)
        fd = os.open('sessions/counter', os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0).strip()
            v = int(raw) if raw else 0
            if v < self.last:
                self.bad('counter went back: read %d after writing %d'
                         % (v, self.last))
            os.pwrite(fd, b'%020d\n' % (v + 1), 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        self.last = v + 1
        self.incs += 1
        self.rec('L', self.incs)


class Reader(Worker):
    kind = 'reader'

    def step(self):
        with self.wl.lock:
            if not self.wl.own:
                item = None
            else:
                item = self.rnd.choice(self.wl.own)
        if item is None:
            time.sleep(0.1)
            return
        self.op('read', self.check, item)
        time.sleep(0.02)

    def check(self, item):
        path, h, size = item
        try:
            data = self.read_file(path)
        except FileNotFoundError:
            with self.wl.lock:
                if path in self.wl.moving:
                    return  # moved to the trash meanwhile
            raise
        if sha1(data) != h:
            self.bad('%s: sha1 %s, want %s (%d of %d bytes)' % (
                path, sha1(data), h, len(data), size))
        else:
            self.add_verified(len(data))


class XReader(Worker):
    """Verifies what the other nodes recorded, through this mount."""
    kind = 'xreader'

    def __init__(self, wl, idx):
        super().__init__(wl, idx)
        self.pos = {}
        self.files, self.gone, self.muc, self.keys = {}, set(), {}, set()

    def tail(self):
        for mf in glob.glob(os.path.join(self.wl.out, '*.*')):
            base = os.path.basename(mf)
            if base.startswith(self.wl.node + '.') or \
               base.endswith(('.progress', '.summary', '.tmp', '.log')):
                continue
            with open(mf) as f:
                f.seek(self.pos.get(mf, 0))
                while True:
                    line = f.readline()
                    if not line.endswith('\n'):
                        break
                    self.pos[mf] = f.tell()
                    p = line.split()
                    if p[0] == 'F' and ('filedir' in base or 'small' in base):
                        self.files[p[1]] = (p[2], int(p[3]))
                    elif p[0] in ('T', 'D'):
                        self.gone.add(p[1])
                        self.files.pop(p[1], None)
                    elif p[0] in ('m', 'M'):
                        # keys are read once renamed into place ('M');
                        # any version ever written may be seen
                        self.muc.setdefault(p[1], set()).add(p[2])
                        if p[0] == 'M':
                            self.keys.add(p[1])

    def step(self):
        self.tail()
        if not self.files and not self.keys:
            time.sleep(0.2)
            return
        if self.keys and self.rnd.random() < 0.3:
            key = self.rnd.choice(sorted(self.keys))
            self.op('xread-muc', self.check_muc, key)
        elif self.files:
            path = self.rnd.choice(sorted(self.files))
            self.op('xread', self.check_file, path)
        time.sleep(0.02)

    def check_file(self, path):
        h, size = self.files[path]
        try:
            data = self.read_file(path)
        except FileNotFoundError:
            time.sleep(0.5)
            self.tail()
            if path in self.gone:
                return
            raise
        if sha1(data) != h:
            self.bad('%s (other node\'s): sha1 %s, want %s' % (
                path, sha1(data), h))
        else:
            self.add_verified(len(data))

    def check_muc(self, key):
        data = self.read_file(key)
        if sha1(data) not in self.muc[key]:
            time.sleep(0.5)
            self.tail()
            if sha1(data) not in self.muc[key]:
                self.bad('%s (other node\'s): content never written' % key)
                return
        self.add_verified(len(data))


WORKERS = {c.kind: c for c in (Filedir, Muc, Append, Small, Big, Holder,
                               Lock, Reader, XReader)}


class Workload:
    def __init__(self, a):
        self.node, self.out, self.stopfile = a.node, a.out, a.stop
        self.holdfile = a.hold
        self.deadline = time.monotonic() + a.duration if a.duration else None
        self.pause = a.pause
        self.max_files = a.max_files
        self.big_mib = a.big_mib
        self.big_pause = a.big_pause
        self.stats = Stats()
        self.run = '%x' % (int(time.time() * 1000) & 0xffffff)  # names
        self.lock = threading.Lock()
        self.own, self.moving = [], set()
        self._stop = False

    def stopped(self):
        if self._stop:
            return True
        if os.path.exists(self.stopfile) or (
                self.deadline and time.monotonic() > self.deadline):
            self._stop = True
        return self._stop

    def held(self):
        return bool(self.holdfile) and os.path.exists(self.holdfile)

    def dump(self, name, obj):
        p = os.path.join(self.out, '%s.%s' % (self.node, name))
        with open(p + '.tmp', 'w') as f:
            json.dump(obj, f)
        os.replace(p + '.tmp', p)


def cmd_run(a):
    os.makedirs(a.out, exist_ok=True)
    wl = Workload(a)
    os.chdir(a.mnt)
    threads = []
    for spec in a.threads.split(','):
        kind, _, n = spec.partition('=')
        for i in range(int(n or 1)):
            threads.append(WORKERS[kind](wl, i))
    wl.stats.workers = len(threads)
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        snap = wl.stats.snapshot()
        snap['elapsed'] = round(time.monotonic() - t0, 1)
        wl.dump('progress', snap)
        wl.stopped()
        time.sleep(0.5)
    snap = wl.stats.snapshot()
    snap['elapsed'] = round(time.monotonic() - t0, 1)
    for t in threads:
        if isinstance(t, Lock):
            snap['lock_incs'] = snap.get('lock_incs', 0) + t.incs
    wl.dump('progress', snap)
    wl.dump('summary', snap)
    print('%s: %d ops attempted, %d done, %d errors, %d wrong reads, '
          '%.1f MB written, %.1f MB verified, longest op %.1f s (%s)' % (
              a.node, snap['attempted'], snap['ok'], snap['errors'],
              snap['bad'], snap['bytes_written'] / 1e6,
              snap['bytes_verified'] / 1e6, snap['max_latency'],
              snap['max_latency_op']))
    return 0


def cmd_verify(a):
    files, trash, gone, muc, muc_p, app, wr, incs = \
        {}, {}, set(), {}, {}, {}, {}, 0
    lock_err = 0
    for mf in sorted(glob.glob(os.path.join(a.out, '*.*'))):
        base = os.path.basename(mf)
        if base.endswith('.summary'):
            with open(mf) as f:
                s = json.load(f)
            lock_err += sum(v for k, v in s['errors_by_kind'].items()
                            if k.startswith('lock-'))
            continue
        if base.endswith(('.progress', '.tmp', '.log', '.csv')):
            continue
        last_l = 0
        with open(mf) as f:
            for line in f:
                if not line.endswith('\n'):
                    continue
                p = line.split()
                t = p[0]
                if t == 'F':
                    files[p[1]] = (p[2], int(p[3]))
                    wr.pop(p[1], None)
                    gone.discard(p[1])
                elif t == 'T':
                    files.pop(p[1], None)
                    trash[p[2]] = (p[3], int(p[4]))
                elif t == 'D':
                    for d in (trash, files, wr, app):
                        d.pop(p[1], None)
                    gone.add(p[1])
                elif t == 'm':
                    muc_p.setdefault(p[1], set()).add(p[2])
                elif t == 'M':
                    muc[p[1]] = p[2]
                    muc_p[p[1]] = set()
                elif t == 'A':
                    app[p[1]] = (int(p[2]), p[3])
                elif t in ('W', 'S'):
                    if t == 'S' or a.written:
                        wr[p[1]] = (int(p[2]), p[3])
                elif t == 'L':
                    last_l = int(p[1])
        incs += last_l
    os.chdir(a.mnt)
    probs, nbytes, nfiles = [], 0, 0

    def prob(msg):
        probs.append(msg)

    def read(path):
        with open(path, 'rb') as f:
            return f.read()

    def whole(path, h, size, what):
        nonlocal nbytes, nfiles
        try:
            data = read(path)
        except OSError as e:
            prob('%s %s: %s' % (what, path, e.strerror))
            return
        if len(data) != size or sha1(data) != h:
            prob('%s %s: %d bytes sha1 %s, want %d bytes %s' % (
                what, path, len(data), sha1(data), size, h))
            return
        nbytes += len(data)
        nfiles += 1

    def prefix(path, n, h, what):
        nonlocal nbytes, nfiles
        try:
            data = read(path)
        except OSError as e:
            prob('%s %s: %s' % (what, path, e.strerror))
            return
        if len(data) < n or sha1(data[:n]) != h:
            prob('%s %s: the first %d bytes (of %d) differ from what was '
                 'acknowledged' % (what, path, n, len(data)))
            return
        nbytes += n
        nfiles += 1

    for path, (h, size) in sorted(files.items()):
        whole(path, h, size, 'closed file')
    for path, (h, size) in sorted(trash.items()):
        whole(path, h, size, 'trashed file')
    for path in sorted(gone):
        if os.path.lexists(path):
            prob('unlinked file %s exists' % path)
    for key, h in sorted(muc.items()):
        try:
            got = sha1(read(key))
        except OSError as e:
            prob('muc key %s: %s' % (key, e.strerror))
            continue
        if got != h and got not in muc_p.get(key, ()):
            prob('muc key %s: sha1 %s, want %s' % (key, got, h))
        else:
            nfiles += 1
    for path, (n, h) in sorted(app.items()):
        prefix(path, n, h, 'append log')
    for path, (n, h) in sorted(wr.items()):
        prefix(path, n, h, 'written (fsynced%s) data of' % (
            ' or write() returned' if a.written else ''))
    counter = None
    if incs or os.path.exists('sessions/counter'):
        try:
            counter = int(read('sessions/counter').strip() or b'0')
        except OSError as e:
            prob('lock counter: %s' % e.strerror)
        if counter is not None and counter != incs and not lock_err:
            prob('lock counter is %d, the nodes made %d increments'
                 % (counter, incs))
        if counter is not None and lock_err and \
                not incs <= counter <= incs + lock_err:
            prob('lock counter is %d, the nodes made %d increments (+%d '
                 'that failed)' % (counter, incs, lock_err))
    print('verified_files %d' % nfiles)
    print('verified_bytes %d' % nbytes)
    print('closed_files %d' % len(files))
    print('lock_increments %d' % incs)
    print('lock_counter %s' % counter)
    print('problems %d' % len(probs))
    for p in probs[:15]:
        print('problem %s' % p)
    return 1 if probs else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--mnt', required=True)
    r.add_argument('--node', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--stop', required=True)
    r.add_argument('--duration', type=float, default=0)
    r.add_argument('--hold', metavar='FILE',
                   help='while FILE exists, every worker waits between '
                   'two steps (nothing open but the holder\'s fd)')
    r.add_argument('--pause', type=float, default=0,
                   help='mean pause between a worker\'s operations (s)')
    r.add_argument('--max-files', type=int, default=200,
                   help='filedir files kept per worker before old ones go '
                   'to the trash')
    r.add_argument('--big-mib', type=int, default=12)
    r.add_argument('--big-pause', type=float, default=0,
                   help='pause after each MiB a big writer writes (s)')
    r.add_argument('--threads', default='filedir,muc,append,small,lock,'
                   'reader,xreader')
    v = sub.add_parser('verify')
    v.add_argument('--mnt', required=True)
    v.add_argument('--out', required=True)
    v.add_argument('--written', action='store_true')
    a = ap.parse_args()
    return cmd_run(a) if a.cmd == 'run' else cmd_verify(a)


if __name__ == '__main__':
    sys.exit(main())
