#!/usr/bin/env bash
# t0440: reads of stripes >= 1 take the file's attributes from the node's
# coherent metadata cache, so a 4 KiB random read is one RADOS read (the
# stripe), not two (stripe + inode object); what another node changes is
# still seen at once: a truncate below the read, an extension beyond the
# old end, a hole; a stripe lost behind our back is still EIO, not zeros.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
RADOS="rados -c $CEPH_CONF -p datarootfs -N"

mkfs_fs
A=$T_DIR/a B=$T_DIR/b
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
mkdir -p "$A/temp"
head -c $((12 << 20)) /dev/urandom >"$T_DIR/src"
cp "$T_DIR/src" "$A/temp/f"

# 1. 200 random 4 KiB reads in stripes 1 and 2 on node b, which never
# read the file: RADOS reads per FUSE read request, and every byte right
out=$($PY - "$B/temp/f" "$T_DIR/src" "$B/.datarootfs-stats.txt" <<'PY'
import os, random, re, sys
path, src, stats = sys.argv[1:4]
def counters():
    t = open(stats).read()
    return (int(re.search(r"rados ops +read=(\d+)", t).group(1)),
            int(re.search(r"requests .* read=(\d+)", t).group(1)))
ref = open(src, "rb").read()
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
r0, q0 = counters()
bad = 0
for off in random.Random(7).sample(range(1024, 3072), 200):
    off *= 4096
    if os.pread(fd, 4096, off) != ref[off:off + 4096]:
        bad += 1
r1, q1 = counters()
print(bad, r1 - r0, q1 - q0)
PY
)
read -r bad rr rq <<<"$out"
say "200 random 4 KiB reads: $rq FUSE read requests, $rr RADOS reads"
check_eq "every random read returns the file's bytes" 0 "$bad"
ok "FUSE read requests reached the daemon ($rq)" test "${rq:-0}" -ge 50
# (the lease thread reads nothing; 2 per request was the old cost)
ok "one RADOS read per read request ($rr for $rq)" \
	test "$((rr * 10))" -le "$((rq * 12))"

# 2. node b holds the attributes in its cache; node a changes the file;
# node b opens it again for each read (data is close-to-open, design.md)
$PY - "$A/temp/f" "$B/temp/f" <<'PY' >"$T_DIR/coh"
import os, sys
a, b = sys.argv[1:3]
def rd(off):
    fb = os.open(b, os.O_RDONLY)
    try:
        return os.pread(fb, 4096, off), os.fstat(fb).st_size
    finally:
        os.close(fb)
rd(9 << 20)                            # cached attrs: size 12 MiB
fa = os.open(a, os.O_RDWR)
os.ftruncate(fa, 6 << 20)
print("after-truncate", len(rd(9 << 20)[0]))
os.pwrite(fa, b"N" * 4096, 10 << 20)   # extends to 10 MiB + 4 KiB
os.fsync(fa)
print("extended", rd(10 << 20)[0] == b"N" * 4096)
print("hole", rd(8 << 20)[0] == bytes(4096))
print("size", rd(0)[1])
PY
check_eq "a truncate on node a: node b reads EOF below the old end" \
	"after-truncate 0" "$(sed -n 1p "$T_DIR/coh")"
check_eq "an extension on node a: node b reads the new bytes" "extended True" "$(sed -n 2p "$T_DIR/coh")"
check_eq "and zeros in the hole between" "hole True" "$(sed -n 3p "$T_DIR/coh")"
check_eq "and the new size" "size $(((10 << 20) + 4096))" "$(sed -n 4p "$T_DIR/coh")"

# 3. a stripe lost behind our back, attributes cached: EIO, not zeros
obj=$(printf 'i.%016x.00000001' "$(stat -c %i "$B/temp/f")")
ok "stripe object $obj removed" $RADOS "$T_FS" rm "$obj"
sync
echo 1 >/proc/sys/vm/drop_caches
stat "$B/temp/f" >/dev/null
ok "lost stripe, cached attributes: a 4 KiB read is EIO" bash -c \
	"! dd if='$B/temp/f' of=/dev/null bs=4k skip=1200 count=1 2>/dev/null"
contains "and the log names the object" "stripe object $obj is missing" "$(cat "$T_DIR"/daemon.b.log)"

umount_fs "$A"
umount_fs "$B"
check_daemon_logs 'stripe object .* is missing|returning EIO'
done_testing
