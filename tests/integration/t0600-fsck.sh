#!/usr/bin/env bash
# t0600: fsck finds (and repairs) each kind of damage made on purpose.
. "$(dirname "$0")/lib.sh"
R() { rados -c "$CEPH_CONF" -p datarootfs -N "$T_FS" "$@"; }
oid() { printf 'i.%016x' "$(stat -c %i "$1")"; }
fsck_rc() { ctl fsck "$@" >"$T_DIR/fsck.out" 2>&1; echo $?; }

mkfs_fs
M=$T_DIR/node1
mount_fs "$M" || exit 1
mkdir -p "$M/a/b" "$M/c"
for i in 1 2 3; do head -c 300000 /dev/urandom >"$M/a/f$i"; done
echo small >"$M/c/s"
check_eq "clean filesystem: fsck exit 0" 0 "$(fsck_rc)"

# dangling entry: the inode object is removed behind our back
R rm "$(oid "$M/a/f1")"
check_eq "dangling entry: fsck exit 4" 4 "$(fsck_rc)"
contains "dangling entry: reported with its path" 'dangling entry /a/f1' "$(cat "$T_DIR/fsck.out")"
check_eq "dangling entry: fsck --repair exit 1" 1 "$(fsck_rc --repair)"
check_eq "dangling entry: clean afterwards" 0 "$(fsck_rc)"
ok "dangling entry: name gone from the directory" test ! -e "$M/a/f1"

# orphaned inode: a directory entry is dropped
dir_oid=$(oid "$M/a")
f2_oid=$(oid "$M/a/f2")
f2_ino=$(printf %x "$(stat -c %i "$M/a/f2")")
R rmomapkey "$dir_oid" f2
check_eq "orphaned inode: found (offline check: no grace)" 4 "$(fsck_rc --offline)"
contains "orphaned inode: reported" "orphaned inode $f2_ino " "$(cat "$T_DIR/fsck.out")"
check_eq "orphaned inode: repaired" 1 "$(fsck_rc --offline --repair)"
ok "orphaned inode: its object is freed" bash -c "! rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' stat '$f2_oid' 2>/dev/null"

# wrong link count: one of two hard links dropped
ln "$M/a/f3" "$M/c/f3link"
R rmomapkey "$(oid "$M/c")" f3link
check_eq "wrong link count: found" 4 "$(fsck_rc)"
contains "wrong link count: reported" 'has link count 2, 1 expected' "$(cat "$T_DIR/fsck.out")"
check_eq "wrong link count: repaired" 1 "$(fsck_rc --repair)"
check_eq "wrong link count: stat shows 1" 1 "$(stat -c %h "$M/a/f3")"

# flipped byte in a data object: EIO on read, never wrong bytes
f3=$(oid "$M/a/f3")
R get "$f3" "$T_DIR/obj"
printf '\xff' | dd of="$T_DIR/obj" bs=1 seek=70000 conv=notrunc status=none
R put "$f3" "$T_DIR/obj"
ok "flipped data byte: read returns EIO" bash -c "! cat '$M/a/f3' >/dev/null 2>'$T_DIR/cat.err' && grep -q 'Input/output error' '$T_DIR/cat.err'"
contains "flipped data byte: the log names the object" "checksum mismatch in object $f3" "$(cat "$T_DIR"/daemon.node1.log)"
check_eq "flipped data byte: fsck exit 4" 4 "$(fsck_rc)"
contains "flipped data byte: fsck names the file" 'checksum mismatch in /a/f3' "$(cat "$T_DIR/fsck.out")"
ok "flipped data byte: no directory is blamed for it" bash -c "! grep -q 'directory /a holds entries' '$T_DIR/fsck.out'"
rm "$M/a/f3"

# flipped byte in a directory object (an entry's value)
c_oid=$(oid "$M/c")
R getomapval "$c_oid" s "$T_DIR/val" >/dev/null 2>&1
printf '\x01' | dd of="$T_DIR/val" bs=1 seek=9 conv=notrunc status=none
R setomapval "$c_oid" s --input-file "$T_DIR/val"
contains "flipped directory byte: lookup returns EIO" 'Input/output error' "$(stat "$M/c/s" 2>&1)"
contains "flipped directory byte: logged" "entry 's' fails its checksum" "$(cat "$T_DIR"/daemon.node1.log)"
check_eq "flipped directory byte: fsck exit 4" 4 "$(fsck_rc)"
contains "flipped directory byte: reported" 'directory /c holds entries that fail' "$(cat "$T_DIR/fsck.out")"
R rmomapkey "$c_oid" s
ctl fsck --offline --repair >/dev/null 2>&1
umount_fs "$M"

# stale rename intent: the daemon dies between the two halves of a
# cross-directory rename
DRFS_FAULT=rename-after-dst mount_fs "$M" || exit 1
echo moved >"$M/a/b/m"
mv "$M/a/b/m" "$M/c/m" 2>/dev/null
sleep 0.5
crash_fs "$M"
# the crashed node's session expires 20 s later, in the middle of the
# cases below (whichever fsck runs then reports it): drop it now, the
# expired-session case below makes its own
for k in $(R listomapkeys sessions); do R rmomapkey sessions "$k"; done
check_eq "stale intent: found" 4 "$(fsck_rc --offline)"
contains "stale intent: reported" 'stale rename intent' "$(cat "$T_DIR/fsck.out")"
check_eq "stale intent: repaired (rolled forward)" 1 "$(fsck_rc --offline --repair)"
check_eq "stale intent: clean afterwards" 0 "$(fsck_rc)"
mount_fs "$M" || exit 1
check_eq "stale intent: the file is at its new name" moved "$(cat "$M/c/m")"
ok "stale intent: and only there" test ! -e "$M/a/b/m"
check_eq "stale intent: link count 1" 1 "$(stat -c %h "$M/c/m")"
umount_fs "$M"
# an expired node session and a lock it left behind
dead=0000dead-0000-4000-8000-00000000dead
R setomapval sessions "$dead" "1000 127.0.0.1:0/424242 datarootfs-old"
R setomapval l.00000000000000ff "$dead:1:0000000000000001:0000000000000000" x
check_eq "expired session and its lock: found" 4 "$(fsck_rc)"
contains "expired session: reported" "node session $dead .* expired" "$(cat "$T_DIR/fsck.out")"
contains "its lock: reported" "lock held by dead node $dead on inode ff" "$(cat "$T_DIR/fsck.out")"
check_eq "expired session and lock: repaired" 1 "$(fsck_rc --repair)"
ok "the dead node was blocklisted first" bash -c "ceph -c '$CEPH_CONF' osd blocklist ls 2>/dev/null | grep -q '127.0.0.1:0/424242'"
check_eq "clean afterwards" 0 "$(fsck_rc)"
ceph -c "$CEPH_CONF" osd blocklist rm 127.0.0.1:0/424242 >/dev/null 2>&1

mount_fs "$M" filedir_verify=log || exit 1
# lost stripe: a stripe object inside a file's size is removed behind our
# back; its records say data was written there, so it is not a hole
head -c 9000000 /dev/urandom >"$T_DIR/big"
cp "$T_DIR/big" "$M/a/big"
big=$(oid "$M/a/big")
ok "big file: its stripes are recorded in the inode" bash -c "rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' listomapkeys $big | grep -qx s.0000000000000002"
R rm "$big.00000001"
# the pages this node wrote are kept across opens (nobody changed the
# file through the filesystem): drop them so the read goes to RADOS
sync; echo 1 >/proc/sys/vm/drop_caches
csum() { sed -n 's/^checksums *errors=\([0-9]*\).*/\1/p' "$M/.datarootfs-stats.txt"; }
errs=$(csum)
ok "lost stripe: read returns EIO, never zeros" bash -c "! cat '$M/a/big' >/dev/null 2>'$T_DIR/cat.err' && grep -q 'Input/output error' '$T_DIR/cat.err'"
contains "lost stripe: the log names the object" "stripe object $big.00000001 is missing" "$(cat "$T_DIR"/daemon.node1.log)"
ok "lost stripe: counted with the checksum errors (for alerts)" test "$(csum)" -gt "${errs:-0}"
ok "lost stripe: the stripes around it still read" bash -c "cmp <(head -c 4194304 '$T_DIR/big') <(head -c 4194304 '$M/a/big') && cmp <(tail -c +8388609 '$T_DIR/big') <(dd if='$M/a/big' bs=4M skip=2 2>/dev/null)"
ok "lost stripe: a partial-block write into it fails (no new bytes merged with zeros)" bash -c "! dd if=/dev/zero of='$M/a/big' bs=4k seek=1100 count=1 conv=notrunc 2>/dev/null"
ok "lost stripe: a whole-block write into it fails too (no object made anew)" bash -c "! dd if=/dev/zero of='$M/a/big' bs=64k seek=70 count=1 conv=notrunc 2>/dev/null"
check_eq "lost stripe: fsck exit 4" 4 "$(fsck_rc)"
contains "lost stripe: fsck names the object, the path and the bytes" "missing stripe object $big.00000001 of /a/big \(bytes 4194304-8388607\)" "$(cat "$T_DIR/fsck.out")"
check_eq "lost stripe: --repair cannot recover it (exit 4)" 4 "$(fsck_rc --repair)"
ok "lost stripe: --repair left the file alone" bash -c "[ \$(stat -c %s '$M/a/big') = 9000000 ] && ! grep -q REPAIRED '$T_DIR/fsck.out'"
truncate -s 4194304 "$M/a/big"
check_eq "lost stripe: truncating below it is a remedy: fsck clean" 0 "$(fsck_rc)"
ok "lost stripe: what is left reads back" cmp <(head -c 4194304 "$T_DIR/big") "$M/a/big"
rm "$M/a/big"

# a real hole is not a lost stripe: no records for never-written stripes
truncate -s 13000000 "$M/a/sparse"
printf tail >>"$M/a/sparse"
ok "sparse file: the holes read as zeros" cmp <(head -c 13000000 /dev/zero; printf tail) "$M/a/sparse"
check_eq "sparse file: fsck finds nothing" 0 "$(fsck_rc)"
# records that nodes older than stripe records left beyond the size (they
# did not drop them on truncate) must not turn a later grow into EIO
sp=$(oid "$M/a/sparse")
R setomapval "$sp" s.0000000000000005 x
R setomapval "$sp" s.0000000000000008 x
truncate -s 25000000 "$M/a/sparse"
printf more | dd of="$M/a/sparse" bs=1 seek=40000000 conv=notrunc status=none
ok "stale records: a grow (truncate, write) shows zeros, not EIO" cmp <(head -c 13000000 /dev/zero; printf tail; head -c 26999996 /dev/zero; printf more) "$M/a/sparse"
check_eq "stale records: fsck finds nothing" 0 "$(fsck_rc)"

# extra stripe objects: beyond a file's size, and of no inode at all
head -c 5000000 /dev/urandom >"$T_DIR/five"
cp "$T_DIR/five" "$M/a/five"
five=$(oid "$M/a/five")
head -c 1000 /dev/urandom >"$T_DIR/junk"
R put "$five.00000005" "$T_DIR/junk"
R put i.00000000000fffff.00000002 "$T_DIR/junk"
R setomapval "$five" s.0000000000000009 x
check_eq "extra stripes: found" 4 "$(fsck_rc)"
contains "extra stripe of no inode: reported" 'extra stripe object i\.00000000000fffff\.\* \(1\) of inode fffff, which does not exist' "$(cat "$T_DIR/fsck.out")"
ok "extra stripe of a file changed within a minute: left alone online" bash -c "! grep -q /a/five '$T_DIR/fsck.out'"
check_eq "extra stripes: found offline" 4 "$(fsck_rc --offline)"
contains "extra stripe beyond the size: reported with the path" "extra stripe object $five.00000005 beyond the size of /a/five \(5000000 bytes\)" "$(cat "$T_DIR/fsck.out")"
contains "stripe record beyond the size: reported" '1 stripe record of /a/five beyond its size' "$(cat "$T_DIR/fsck.out")"
check_eq "extra stripes: repaired" 1 "$(fsck_rc --offline --repair)"
ok "extra stripes: the objects are removed" bash -c "! rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' stat $five.00000005 2>/dev/null && ! rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' stat i.00000000000fffff.00000002 2>/dev/null"
ok "extra stripes: the record is removed" bash -c "! rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' listomapkeys $five | grep -q s.0000000000000009"
ok "extra stripes: the file is intact" cmp "$T_DIR/five" "$M/a/five"
check_eq "extra stripes: clean afterwards" 0 "$(fsck_rc)"

# filedir: content whose SHA-1 is not its name (stored under
# filedir_verify=log, which only logs the mismatch at the rename)
store() { # store NAME FILE
	mkdir -p "$M/filedir/${1:0:2}/${1:2:2}"
	cp "$2" "$M/filedir/${1:0:2}/${1:2:2}/$1.tmp"
	mv "$M/filedir/${1:0:2}/${1:2:2}/$1.tmp" "$M/filedir/${1:0:2}/${1:2:2}/$1"
}
good=$(sha1sum <"$T_DIR/five" | cut -c1-40)
bad=$(sha1sum <"$T_DIR/junk" | cut -c1-40)
store "$good" "$T_DIR/five"
store "$bad" "$T_DIR/five"
badpath=/filedir/${bad:0:2}/${bad:2:2}/$bad
check_eq "filedir mismatch: fsck exit 4" 4 "$(fsck_rc)"
contains "filedir mismatch: reported with its path" "content of $badpath does not match its name: its SHA-1 is $good" "$(cat "$T_DIR/fsck.out")"
ok "filedir mismatch: the matching file is not reported" bash -c "[ \$(grep -c 'does not match' '$T_DIR/fsck.out') = 1 ]"
check_eq "filedir mismatch: --repair leaves it (exit 4)" 4 "$(fsck_rc --repair)"
ok "filedir mismatch: the file is still in place" test -f "$M$badpath"
check_eq "filedir mismatch: --no-data skips the check" 0 "$(fsck_rc --no-data)"
check_eq "filedir mismatch: --filedir-name names the area (another one: clean)" 0 "$(fsck_rc --filedir-name pool)"
mv "$M/filedir" "$M/pool"
check_eq "filedir mismatch: --filedir-name pool finds it there" 4 "$(fsck_rc --filedir-name pool)"
contains "filedir mismatch: under its area's name" "content of /pool/${bad:0:2}/${bad:2:2}/$bad does not match" "$(cat "$T_DIR/fsck.out")"
rm -r "$M/pool"
check_eq "filedir: clean afterwards" 0 "$(fsck_rc)"

# an rmdir interrupted after it marked the directory dead
mkdir "$M/dying"
R setomapval "$(printf 'i.%016x' "$(stat -c %i "$M/dying")")" /dead 1
ok "a directory marked dead refuses new entries" bash -c "! touch '$M/dying/x' 2>/dev/null"
check_eq "interrupted rmdir: fsck exit 4" 4 "$(fsck_rc)"
contains "interrupted rmdir: reported" 'directory /dying is marked dead but still linked' "$(cat "$T_DIR/fsck.out")"
check_eq "interrupted rmdir: --repair keeps the directory (exit 1)" 1 "$(fsck_rc --repair)"
ok "interrupted rmdir: the directory takes entries again" touch "$M/dying/x"
rc=$(fsck_rc)
check_eq "interrupted rmdir: clean afterwards" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T_DIR/fsck.out"
umount_fs "$M"
check_eq "usage error: exit 16" 16 "$(fsck_rc --bogus)"
done_testing
