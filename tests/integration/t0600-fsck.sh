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
check_eq "usage error: exit 16" 16 "$(fsck_rc --bogus)"
done_testing
