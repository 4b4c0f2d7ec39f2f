#!/usr/bin/env bash
# t0445: a checksum per 4 KiB piece of each 64 KiB block (codec.h, format
# 2).  A 4 KiB random read reads 4 KiB at the OSDs and a 4 KiB aligned
# write sends 4 KiB (both were a whole block); unaligned writes keep the
# old bytes of their pieces, verified; a flipped byte fails the piece that
# holds it, and only that one.  Files whose records are of the first
# format (one checksum per block, written by a datarootfs of format 1)
# read and verify as before, and a write turns the blocks it touches into
# the new format.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
R() { rados -c "$CEPH_CONF" -p datarootfs -N "$T_FS" "$@"; }
oid() { printf 'i.%016x.%08x' "$(stat -c %i "$1")" "$2"; }
# bytes the OSDs sent out / took in for client ops (not replication)
osd_bytes() {
	local id
	for id in $(ceph -c "$CEPH_CONF" osd ls); do
		ceph -c "$CEPH_CONF" tell "osd.$id" perf dump 2>/dev/null
	done | $PY -c '
import json, sys
dec, text, sums, i = json.JSONDecoder(), sys.stdin.read(), [0, 0], 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    d, i = dec.raw_decode(text, i)
    sums[0] += d["osd"]["op_out_bytes"]
    sums[1] += d["osd"]["op_in_bytes"]  # guarded writes count as "rw"
print(*sums)'
}

# probe FILE MODEL OFF...: a fresh 4 KiB read at each OFF, "ok" if it is
# the model's bytes, else "wrong" or the error
probe() {
	$PY - "$@" <<'PY'
import os, sys
ref = open(sys.argv[2], "rb").read()
def rd(off):
    fd = os.open(sys.argv[1], os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    try:
        return "ok" if os.pread(fd, 4096, off) == ref[off:off + 4096] else "wrong"
    except OSError as e:
        return os.strerror(e.errno)
    finally:
        os.close(fd)
print(*(rd(int(o)) for o in sys.argv[3:]))
PY
}

mkfs_fs
A=$T_DIR/a B=$T_DIR/b
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
mkdir -p "$A/temp"
head -c $((12 << 20)) /dev/urandom >"$T_DIR/src"
cp "$T_DIR/src" "$A/temp/f"
cp "$T_DIR/src" "$T_DIR/model"

# 1. 200 random aligned 4 KiB reads on node b (which never read the file)
read -r r0 w0 <<<"$(osd_bytes)"
bad=$($PY - "$B/temp/f" "$T_DIR/src" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
ref = open(sys.argv[2], "rb").read()
print(sum(os.pread(fd, 4096, o * 4096) != ref[o * 4096:o * 4096 + 4096]
          for o in random.Random(3).sample(range(1024, 3072), 200)))
PY
)
read -r r1 w1 <<<"$(osd_bytes)"
say "200 random 4 KiB reads: the OSDs read out $((r1 - r0)) bytes"
check_eq "200 random 4 KiB reads return the file's bytes" 0 "$bad"
# a whole 64 KiB block each is 13 MB; 4 KiB each is 0.8 MB
ok "and read about 4 KiB each at the OSDs, not 64 KiB ($((r1 - r0)) bytes)" \
	test "$((r1 - r0))" -lt $((200 * 12288))

# 2. 200 random aligned 4 KiB writes on node a, then fsync
read -r r0 w0 <<<"$(osd_bytes)"
$PY - "$A/temp/f" "$T_DIR/model" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = os.open(sys.argv[2], os.O_RDWR)
rnd = random.Random(4)
for o in rnd.sample(range(1024, 3072), 200):
    b = rnd.randbytes(4096)
    os.pwrite(fd, b, o * 4096)
    os.pwrite(m, b, o * 4096)
os.fsync(fd)
os.close(fd)
PY
read -r r1 w1 <<<"$(osd_bytes)"
say "200 random 4 KiB writes: the OSDs took in $((w1 - w0)) bytes, read out $((r1 - r0))"
ok "and took in about 4 KiB each, not 64 KiB ($((w1 - w0)) bytes)" \
	test "$((w1 - w0))" -lt $((200 * 12288))
ok "without reading the old blocks ($((r1 - r0)) bytes)" \
	test "$((r1 - r0))" -lt $((200 * 4096))
ok "node b reads exactly the model after the writes" cmp "$B/temp/f" "$T_DIR/model"

# 3. unaligned writes of every size keep the old bytes around them; node
# b, which holds the file in its page cache, reads them after reopening
$PY - "$A/temp/f" "$T_DIR/model" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = os.open(sys.argv[2], os.O_RDWR)
rnd = random.Random(5)
for i in range(400):
    off = rnd.randrange(0, 13 << 20)   # past the end, too
    b = rnd.randbytes(rnd.choice([1, 7, 100, 4095, 4097, 9000, 70000]))
    os.pwrite(fd, b, off)
    os.pwrite(m, b, off)
    if i % 100 == 99:
        os.fsync(fd)
os.close(fd)
PY
echo 1 >/proc/sys/vm/drop_caches
ok "400 unaligned writes: node b reads exactly the model" cmp "$B/temp/f" "$T_DIR/model"

# 4. a flipped byte fails its piece, and only that one
obj=$(oid "$A/temp/f" 1)
R get "$obj" "$T_DIR/obj"
printf '\xff' | dd of="$T_DIR/obj" bs=1 seek=70000 conv=notrunc status=none
R put "$obj" "$T_DIR/obj"
echo 1 >/proc/sys/vm/drop_caches # (node b's page cache holds the file)
base=$((4 << 20))
out=$(probe "$B/temp/f" "$T_DIR/model" $((base + 69632)) $((base + 65536)) \
	$((base + 73728)))
check_eq "flipped byte: its piece is EIO, the pieces beside it are served" \
	"Input/output error ok ok" "$out"
contains "flipped byte: the log names the object and block" \
	"checksum mismatch in object $obj block 1" "$(cat "$T_DIR"/daemon.b.log)"
out=$($PY - "$A/temp/f" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
r = []
for off, n in (((4 << 20) + 70100, 100), ((4 << 20) + 69632, 4096)):
    try:
        os.pwrite(fd, b"W" * n, off)
        os.fsync(fd)
        r.append("ok")
    except OSError as e:
        r.append(os.strerror(e.errno))
print(*r)
PY
)
check_eq "flipped byte: a write keeping bytes of the piece fails, one replacing it lands" \
	"Input/output error ok" "$out"
got=$($PY -c "
import os, sys
fd = os.open('$B/temp/f', os.O_RDONLY)
print(os.pread(fd, 4096, (4 << 20) + 69632) == b'W' * 4096)")
check_eq "and node b reads the piece written" True "$got"

# 5. records of the first format (a file written before format 2)
head -c $((9 << 20)) /dev/urandom >"$T_DIR/old"
cp "$T_DIR/old" "$A/temp/old"
sync
ino=$(stat -c %i "$A/temp/old")
objs=$(printf 'i.%016x ' "$ino"; printf 'i.%016x.%08x ' "$ino" 1 "$ino" 2)
# shellcheck disable=SC2086
ok "the file's records rewritten in the first format" \
	"$DRFS_BUILD/tests/blkv1" "$CEPH_CONF" datarootfs "$T_FS" $objs
vlen=$(R getomapval "$(oid "$A/temp/old" 1)" b.00000005 - 2>/dev/null | wc -c)
check_eq "a first-format record is 16 bytes" 16 "$vlen"
ok "node b reads the old file whole" cmp "$B/temp/old" "$T_DIR/old"
echo 1 >/proc/sys/vm/drop_caches
bad=$($PY - "$B/temp/old" "$T_DIR/old" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
ref = open(sys.argv[2], "rb").read()
print(sum(os.pread(fd, 4096, o) != ref[o:o + 4096]
          for o in random.Random(6).sample(range(0, (9 << 20) - 4096, 4096), 100)))
PY
)
check_eq "and 100 random 4 KiB reads of it" 0 "$bad"
$PY - "$A/temp/old" "$T_DIR/old" <<'PY'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = os.open(sys.argv[2], os.O_RDWR)
rnd = random.Random(8)
# block 5 of stripe 1: an aligned piece; block 9: unaligned bytes
for off, n in (((4 << 20) + 5 * 65536 + 8192, 4096), ((4 << 20) + 9 * 65536 + 1000, 50)):
    b = rnd.randbytes(n)
    os.pwrite(fd, b, off)
    os.pwrite(m, b, off)
os.fsync(fd)
os.close(fd)
PY
echo 1 >/proc/sys/vm/drop_caches
ok "writes into first-format blocks: node b reads exactly the model" cmp "$B/temp/old" "$T_DIR/old"
check_eq "a block written is in the new format (144 bytes)" 144 \
	"$(R getomapval "$(oid "$A/temp/old" 1)" b.00000005 - 2>/dev/null | wc -c)"
check_eq "the other blocks keep theirs" 16 \
	"$(R getomapval "$(oid "$A/temp/old" 1)" b.00000006 - 2>/dev/null | wc -c)"
# a flipped byte in a first-format block fails the whole block
obj=$(oid "$A/temp/old" 2)
R get "$obj" "$T_DIR/obj"
printf '\xff' | dd of="$T_DIR/obj" bs=1 seek=$((3 * 65536 + 100)) conv=notrunc status=none
R put "$obj" "$T_DIR/obj"
echo 1 >/proc/sys/vm/drop_caches
base=$((8 << 20))
out=$(probe "$B/temp/old" "$T_DIR/old" $((base + 3 * 65536 + 32768)) \
	$((base + 4 * 65536)))
check_eq "flipped byte in a first-format block: the block is EIO, the next one served" \
	"Input/output error ok" "$out"

rm -f "$A/temp/f" "$A/temp/old"
umount_fs "$B"
umount_fs "$A"
ok "fsck (data verified) finds no damage" ctl fsck
check_daemon_logs 'checksum mismatch in object|write-back of inode [0-9a-f]+ \(100 bytes at [0-9]+\) failed: Input/output error'
done_testing
