#!/usr/bin/env bash
# t0420: ENOSPC during an asynchronous flush reaches the writer.  A pool
# quota (ceph osd pool set-quota) makes RADOS answer EDQUOT, which the
# daemon maps to ENOSPC (drfs_ret).  A streaming writer (1 MiB writes,
# whole stripes in flight with aio) must see ENOSPC from a later write(),
# fsync() or close() - never success for bytes that were not stored, never
# EIO, never a hang - and the file must stay readable.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
P=drfs_squota_$$
ceph_() { timeout 60 ceph -c "$CEPH_CONF" "$@"; }
pool_rm() {
	ceph_ osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1 && return 0
	ceph_ config set mon mon_allow_pool_delete true >/dev/null 2>&1
	ceph_ osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1
}
pool_made=
trap 't_cleanup; [ -n "$pool_made" ] && pool_rm' EXIT

# stream PATH MIB: 1 MiB writes, fsync, close; prints "ok" or
# "<call> <block> <errno name>" for the first call that failed.
stream() {
	timeout 150 "$PY" - "$@" <<'PYEOF'
import errno, os, sys
path, mib = sys.argv[1], int(sys.argv[2])
buf = os.urandom(1 << 20)
call, i, fd = "open", 0, -1
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    call = "write"
    for i in range(mib):
        os.write(fd, buf)
    call = "fsync"
    os.fsync(fd)
    call = "close"
    os.close(fd)
    print("ok")
except OSError as e:
    print(call, i, errno.errorcode.get(e.errno, e.errno))
    try:
        if fd >= 0:
            os.close(fd)
    except OSError:
        pass
PYEOF
}

ok "create pool $P" ceph_ osd pool create "$P" 8
pool_made=1
ok "enable application datarootfs on it" ceph_ osd pool application enable "$P" datarootfs
clean=0
for i in $(seq 60); do
	clean=$(ceph_ pg ls-by-pool "$P" -f json 2>/dev/null |
		jq '[.pg_stats[] | select(.state == "active+clean")] | length')
	[ "${clean:-0}" -ge 8 ] && break
	sleep 0.5
done
check_eq "its 8 PGs are active+clean" 8 "$clean"
QFS=q$T_FS
ok "mkfs in the pool" "$DATAROOTCTL" -c "$CEPH_CONF" -p "$P" -n "$QFS" mkfs
FS=$QFS mount_fs "$T_DIR/a" "pool=$P" || exit 1
A=$T_DIR/a
mkdir -p "$A/temp"
check_eq "a 24 MiB stream before the quota is fine" ok "$(stream "$A/temp/before" 24)"
# the files the streams write exist before the quota: once the pool is
# full a create is refused at open (ENOSPC, correctly), and the point here
# is a writer that is told in the middle of its stream
for i in $(seq 8); do : >"$A/temp/big$i"; done
ok "quota max_bytes 40000000" ceph_ osd pool set-quota "$P" max_bytes 40000000

# The quota takes effect once the mgr has reported the pool's usage (a
# few seconds): stream until it does.
start=$SECONDS
res=ok
for i in $(seq 8); do
	res=$(stream "$A/temp/big$i" 200)
	say "stream $i: $res ($((SECONDS - start)) s)"
	[ "$res" = ok ] || break
done
contains "a streaming writer on a full pool is told ENOSPC (write, fsync or close)" \
	'^(write|fsync|close) [0-9]+ ENOSPC$' "$res"
ok "the file it wrote reads without EIO" cat "$A/temp/big$i"
# random 4 KiB writes (buffered as pieces, written in one batch at fsync)
# beyond the end of a file that exists, so into new stripe objects: the
# batch fails on the full pool and fsync says so.  (Overwrites of stored
# bytes are allowed by Ceph on a pool at its quota: our ops carry
# FULL_TRY, and the OSD refuses only what adds bytes or objects.)
sha_before=$(sha1sum <"$A/temp/before")
res=$(timeout 120 "$PY" - "$A/temp/before" <<'PYEOF'
import errno, os, random, sys
r = random.Random(5)
fd = os.open(sys.argv[1], os.O_WRONLY)
call = "pwrite"
try:
    for i in range(200):
        os.pwrite(fd, r.randbytes(4096), r.randrange(25 << 20, 60 << 20))
    call = "fsync"
    os.fsync(fd)
    print("ok")
except OSError as e:
    print(call, errno.errorcode.get(e.errno, e.errno))
try:
    os.close(fd)
except OSError:
    pass
PYEOF
)
check_eq "random writes beyond its end on the full pool: fsync says ENOSPC" "fsync ENOSPC" "$res"
# (the failed batch may have raised its size first, as a crash in the
# middle of a write can: what lies beyond reads as zeros)
check_eq "the file from before the quota still holds its 24 MiB" "$sha_before" \
	"$(head -c $((24 << 20)) "$A/temp/before" | sha1sum)"
ok "the filesystem still answers" timeout 20 ls -l "$A/temp"
# the same through a mount whose pieces go out in the background every
# 16 writes (writeback_pieces=16): a batch that fails after its write()s
# returned must still reach the writer, from a later write(), fsync() or
# close() - the first call after the batch is done
C=$T_DIR/c
FS=$QFS mount_fs "$C" "pool=$P,writeback_pieces=16" || exit 1
bgs() { awk '/^bytes/ {gsub(/[()]/, ""); print $NF}' "$C/.datarootfs-stats.txt"; }
res=$(timeout 120 "$PY" - "$C/temp/before" <<'PYEOF'
import errno, os, random, sys
r = random.Random(6)
fd = os.open(sys.argv[1], os.O_RDWR)
call, i = "pwrite", 0
try:
    for i in range(400):
        os.pwrite(fd, r.randbytes(4096), r.randrange(25 << 20, 60 << 20))
    call = "fsync"
    os.fsync(fd)
    call = "close"
    os.close(fd)
    print("ok")
    sys.exit()
except OSError as e:
    print(call, errno.errorcode.get(e.errno, e.errno), i)
try:
    os.close(fd)
except OSError:
    pass
PYEOF
)
say "background writer: ${res}; background flushes: $(bgs)"
contains "random writes on the full pool, batched in the background: the writer is told ENOSPC" '^(pwrite|fsync|close) ENOSPC [0-9]+$' "$res"
ok "the batches went out in the background" test "$(bgs)" -ge 1
check_eq "the file from before the quota still holds its 24 MiB (background)" "$sha_before" \
	"$(head -c $((24 << 20)) "$C/temp/before" | sha1sum)"
umount_fs "$C"

ok "remove the quota" ceph_ osd pool set-quota "$P" max_bytes 0
start=$SECONDS
res=
while [ $((SECONDS - start)) -lt 40 ]; do
	res=$(stream "$A/temp/again" 24)
	[ "$res" = ok ] && break
	sleep 1
done
check_eq "streaming works again after the quota is lifted ($((SECONDS - start)) s)" ok "$res"
umount_fs "$A"
out=$("$DATAROOTCTL" -c "$CEPH_CONF" -p "$P" -n "$QFS" fsck 2>&1); rc=$?
check_eq "fsck (data verified) after the full pool: clean" 0 "$rc"
[ $rc = 0 ] || sed 's/^/#   /' <<<"$out" | head -n 10
check_daemon_logs 'No space left on device'
ok "delete pool $P" pool_rm
pool_made=
done_testing
