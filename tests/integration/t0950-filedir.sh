#!/usr/bin/env bash
# t0950: filedir, Moodle's content-addressed pool: SHA-1 checked at rename,
# immutable afterwards, trash and recovery, deletes seen by every node.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

store() { # store NODE FILE: Moodle's add_file_to_pool (tmp, re-read, rename)
	local h d
	h=$(sha1sum <"$2" | cut -c1-40)
	d=filedir/${h:0:2}/${h:2:2}
	mkdir -p "$1/$d" 2>/dev/null
	rm -f "$1/$d/$h.tmp"
	cat "$2" >"$1/$d/$h.tmp" || return 1 # PHP copy(): O_CREAT|O_TRUNC
	[ "$(sha1sum <"$1/$d/$h.tmp" | cut -c1-40)" = "$h" ] || return 1
	mv "$1/$d/$h.tmp" "$1/$d/$h" 2>/dev/null || [ -e "$1/$d/$h" ] || return 1
	chmod 0666 "$1/$d/$h"
	echo "$d/$h"
}

head -c 3000000 /dev/urandom >"$T_DIR/content"
p=$(store "$A" "$T_DIR/content") & q=$(store "$B" "$T_DIR/content"); wait_bg
p=$(store "$A" "$T_DIR/content")
ok "both nodes stored the same content at once" cmp "$T_DIR/content" "$B/$p"
out=$(echo more 2>&1 >>"$A/$p")
contains "pool content is immutable: append refused (EPERM)" 'Operation not permitted' "$out"
out=$(truncate -s 0 "$B/$p" 2>&1)
contains "pool content is immutable: truncate refused" 'Operation not permitted' "$out"
ok "chmod after the rename works (Moodle does it)" chmod 0644 "$A/$p"
ok "the content is unchanged" cmp "$T_DIR/content" "$A/$p"
for i in 1 2 3; do cat "$B/$p" >/dev/null; done
ok "warm reads (page cache kept across opens) return the content" cmp "$T_DIR/content" "$B/$p"

# renamed into the pool while still open with writes buffered (as a local
# disk would): what is hashed is what was written, not what reached RADOS
head -c 700000 /dev/urandom >"$T_DIR/open-content"
ho=$(sha1sum <"$T_DIR/open-content" | cut -c1-40)
do_=filedir/${ho:0:2}/${ho:2:2}
mkdir -p "$A/$do_"
out=$(python3 - "$A/$do_/$ho.tmp" "$A/$do_/$ho" "$T_DIR/open-content" 2>&1 <<'PYEOF'
import os, sys
tmp, final, src = sys.argv[1:4]
data = open(src, "rb").read()
fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, data[:300000])
os.pwrite(fd, data[500000:], 500000)   # a piece
os.pwrite(fd, data[300000:500000], 300000)
os.rename(tmp, final)                   # fd still open, nothing synced
try:
    os.close(fd)
except OSError as e:
    print("close:", e)
print("renamed")
PYEOF
)
check_eq "rename into the pool with writes still buffered: allowed" renamed "$out"
ok "and the other node reads exactly what was written" cmp "$T_DIR/open-content" "$B/$do_/$ho"
out=$(echo x 2>&1 >>"$B/$do_/$ho")
contains "and it is sealed pool content" 'Operation not permitted' "$out"
ok "and it can be deleted (freed: the counts below do not see it)" rm "$A/$do_/$ho"

# a tmp file whose content does not match the name is refused
h=$(sha1sum <"$T_DIR/content" | cut -c1-40)
bad=${h:0:39}$(printf %x $(( (0x${h:39:1} + 1) % 16 )))
d=filedir/${bad:0:2}/${bad:2:2}
mkdir -p "$A/$d"
cp "$T_DIR/content" "$A/$d/$bad.tmp"
out=$(mv "$A/$d/$bad.tmp" "$A/$d/$bad" 2>&1)
contains "rename to a name that is not the content's SHA-1 is refused (EPERM)" 'Operation not permitted' "$out"
ok "the tmp file stays in place" test -f "$A/$d/$bad.tmp"
ok "the final name does not exist" test ! -e "$A/$d/$bad"
contains "the mismatch is logged with both hashes" "SHA-1 $h, not its new name $bad" "$(cat "$T_DIR"/daemon.node1.log)"
ok "a file named like a hash outside filedir/ab/cd is not checked" bash -c "cp '$T_DIR/content' '$A/$bad' && echo x >>'$A/$bad'"

# delete to trash, recover, delete for good: seen by the other node
mkdir -p "$A/trashdir/${h:0:2}/${h:2:2}"
mv "$A/$p" "$A/trashdir/${h:0:2}/${h:2:2}/$h"
ok "moved to trashdir: gone from filedir on node2" test ! -e "$B/$p"
ok "trash copy is intact (Moodle re-checks its SHA-1)" bash -c "[ \"\$(sha1sum <'$B/trashdir/${h:0:2}/${h:2:2}/$h' | cut -c1-40)\" = '$h' ]"
mv "$B/trashdir/${h:0:2}/${h:2:2}/$h" "$B/$p"
ok "recovered from trash on node2: readable on node1" cmp "$T_DIR/content" "$A/$p"
rm "$A/$p"
ok "a delete on node1 is seen by node2's next stat" test ! -e "$B/$p"

# Stored once: content already in the pool (here a trashdir copy, as when
# Moodle re-adds a deleted file) is linked, not stored again.
R() { rados -c "$CEPH_CONF" -p datarootfs -N "$T_FS" "$@"; }
stripes() { R ls | grep -cE '^i\.[0-9a-f]{16}\.[0-9a-f]{8}$'; }
head -c 9000000 /dev/urandom >"$T_DIR/big" # 3 stripes: 2 stripe objects
h2=$(sha1sum <"$T_DIR/big" | cut -c1-40)
t2=trashdir/${h2:0:2}/${h2:2:2}/$h2
p2=$(store "$A" "$T_DIR/big")
base=$(stripes)
mkdir -p "$A/${t2%/*}" && mv "$A/$p2" "$A/$t2"
p2=$(store "$B" "$T_DIR/big")
check_eq "re-added content is the trash copy's inode (one copy)" \
	"$(stat -c %i "$A/$t2")" "$(stat -c %i "$B/$p2")"
check_eq "two names refer to it: link count 2" 2 "$(stat -c %h "$A/$p2")"
ok "re-added content reads back" cmp "$T_DIR/big" "$A/$p2"
contains "node2 counted one dedup" 'filedir_dedup_total\{[^}]*\} 1' "$(cat "$B/.datarootfs-stats.prom")"
rm "$A/$t2" # trash emptied: the filedir name keeps the content
ok "trash emptied: the pool file still reads back" cmp "$T_DIR/big" "$B/$p2"
check_eq "and has link count 1" 1 "$(stat -c %h "$B/$p2")"
# Both nodes add the same new content at once (different tmp names).
head -c 6000000 /dev/urandom >"$T_DIR/race"
h3=$(sha1sum <"$T_DIR/race" | cut -c1-40)
p3=filedir/${h3:0:2}/${h3:2:2}/$h3
mkdir -p "$A/${p3%/*}"
cp "$T_DIR/race" "$A/$p3.a" & cp "$T_DIR/race" "$B/$p3.b"; wait_bg
mv "$A/$p3.a" "$A/$p3" & mv "$B/$p3.b" "$B/$p3"; wait_bg
ok "simultaneous adds: the content reads back on both nodes" \
	bash -c "cmp '$T_DIR/race' '$A/$p3' && cmp '$T_DIR/race' '$B/$p3'"
ok "no tmp name is left" test ! -e "$A/$p3.a" -a ! -e "$A/$p3.b"
umount_fs "$A"
umount_fs "$B"
out=$(ctl fsck --repair --offline 2>&1)
contains "fsck after dedup: clean" ' 0 problem' "$out"
check_eq "one copy of each content is stored (deleted copies freed)" \
	$((base + 1)) "$(stripes)"
check_eq "the content index has one entry per stored content" 2 \
	"$(for o in $(R ls | grep '^cas\.'); do R listomapkeys "$o"; done | sort -u | wc -l)"
mount_fs "$A" || exit 1
rm -f "$A/$p2" "$A/$p3"
umount_fs "$A"
ctl fsck --repair --offline >/dev/null 2>&1
check_eq "the last name gone: the content is freed" 0 "$(stripes)"
check_eq "and unindexed" 0 \
	"$(for o in $(R ls | grep '^cas\.'); do R listomapkeys "$o"; done | sort -u | wc -l)"

# The SHA-1 taken while this node wrote the file from byte 0 replaces the
# read-back at the rename; anything else that changed the data voids it and
# the rename reads the file back.  Each case below names the content's
# SHA-1 as it was before the change, so a hash that was not voided would
# let a wrong name into the pool.
hashcnt() { awk -v k="$2" 'index($0, "datarootfs_filedir_hash_total{") == 1 && index($0, "how=\"" k "\"") {print $2}' "$1/.datarootfs-stats.prom"; }
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
w0=$(hashcnt "$A" written) r0=$(hashcnt "$A" reread)
head -c 5000000 /dev/urandom >"$T_DIR/inorder"
pi=$(store "$A" "$T_DIR/inorder")
ok "a file copied in order is stored" cmp "$T_DIR/inorder" "$B/$pi"
check_eq "its check used the hash of the writes (no read-back)" "$((w0 + 1)) $r0" "$(hashcnt "$A" written) $(hashcnt "$A" reread)"
rm "$A/$pi"
out=$(python3 - "$A" "$B" 2>&1 <<'PYEOF'
import hashlib, os, sys
data = os.urandom(3 * 1048576 + 1234)
h = hashlib.sha1(data).hexdigest()
rel = os.path.join("filedir", h[0:2], h[2:4])
da, db = (os.path.join(m, rel) for m in sys.argv[1:3])
os.makedirs(da, exist_ok=True)
def attempt(case, change, upto=len(data)):
    tmp = os.path.join(da, case + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    for off in range(0, upto, 1048576):
        os.pwrite(fd, data[off:min(off + 1048576, upto)], off)
    change(fd, os.path.join(db, case + ".tmp"))
    os.close(fd)
    name = os.path.join(da, h)
    try:
        os.rename(tmp, name)
        os.unlink(name)
        print(case, "accepted")
    except OSError as e:
        print(case, "refused" if e.errno == 1 else e)
        os.unlink(tmp)
def overwrite(fd, _):
    os.pwrite(fd, b"X" if data[10:11] != b"X" else b"Y", 10)
def truncate_gap(fd, _):
    # all but the tail written; cut inside, then the tail at its place
    # (where the hash goes on): a hole of zeros inside
    os.ftruncate(fd, 1000)
    os.pwrite(fd, data[-1234:], len(data) - 1234)
def remote(fd, bpath):
    os.fsync(fd)
    fb = os.open(bpath, os.O_WRONLY)
    os.pwrite(fb, b"X" if data[10:11] != b"X" else b"Y", 10)
    os.close(fb)
attempt("overwrite", overwrite)
attempt("truncate", truncate_gap, len(data) - 1234)
attempt("remote", remote)
PYEOF
)
contains "an overwrite inside what was hashed voids the hash: refused" 'overwrite refused' "$out"
contains "a truncate voids the hash: refused" 'truncate refused' "$out"
contains "a change by the other node voids the hash: refused" 'remote refused' "$out"
check_eq "the three were checked by reading them back" "$((r0 + 3))" "$(hashcnt "$A" reread)"
umount_fs "$A"
umount_fs "$B"
ctl fsck --repair --offline >/dev/null 2>&1
check_eq "and those files are freed" 0 "$(stripes)"

# filedir_nodelete: content is never freed; a later add finds it again
mount_fs "$A" filedir_nodelete || exit 1
mount_fs "$B" || exit 1
p2=$(store "$A" "$T_DIR/big")
ino=$(stat -c %i "$A/$p2")
rm "$A/$p2"
ok "nodelete: the name is gone" test ! -e "$B/$p2"
umount_fs "$B"
umount_fs "$A"
out=$(ctl fsck --repair --offline 2>&1)
contains "fsck: kept content is not an orphan" ' 0 problem.*' "$out"
contains "fsck reports the kept content" '1 unlinked pool content\(s\) kept' "$out"
check_eq "nodelete: the content stays stored" 2 "$(stripes)"
mount_fs "$B" || exit 1
p2=$(store "$B" "$T_DIR/big")
check_eq "nodelete: re-adding finds the kept content" "$ino" "$(stat -c %i "$B/$p2")"
ok "and it reads back" cmp "$T_DIR/big" "$B/$p2"
umount_fs "$B"

# a crash in the middle of a dedup loses nothing: fsck repairs the counts
head -c 5000000 /dev/urandom >"$T_DIR/crash"
hc=$(sha1sum <"$T_DIR/crash" | cut -c1-40)
tc=trashdir/${hc:0:2}/${hc:2:2}/$hc
for point in cas-after-ref cas-after-swap; do
	mount_fs "$A" || exit 1
	pc=$(store "$A" "$T_DIR/crash")
	mkdir -p "$A/${tc%/*}" && mv "$A/$pc" "$A/$tc"
	umount_fs "$A"
	DRFS_FAULT=$point mount_fs "$A" || exit 1
	store "$A" "$T_DIR/crash" >/dev/null 2>&1
	crash_fs "$A"
	mount_fs "$A" || exit 1
	ok "crash at $point: the re-added name reads back" cmp "$T_DIR/crash" "$A/$pc"
	ok "crash at $point: the trash copy reads back" cmp "$T_DIR/crash" "$A/$tc"
	umount_fs "$A"
	out=$(ctl fsck --offline --repair 2>&1)
	contains "crash at $point: fsck repairs what the crash left" 'REPAIRED: (inode [0-9a-f]+ has link count|orphaned inode)' "$out"
	ok "crash at $point: clean afterwards" ctl fsck --offline
	mount_fs "$A" || exit 1
	rm -f "$A/$pc" "$A/$tc"
	umount_fs "$A"
done

# fsck checks the content index against the pool
R rmomapkey "cas.${h2:0:2}" "$h2"
R setomapval "cas.00" 00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee garbage
out=$(ctl fsck --offline 2>&1)
contains "fsck: pool content missing from the index is reported" "pool content $h2 .* is missing from the content index" "$out"
contains "fsck: a bad index entry is reported" "content index entry 00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee .* names a value that fails its checksum" "$out"
out=$(ctl fsck --offline --repair 2>&1)
contains "fsck --repair fixes both" 'REPAIRED: pool content .* indexed' "$out"
ok "fsck is clean afterwards" ctl fsck --offline

# policy "log": a mismatch is allowed and logged
mount_fs "$A" filedir_verify=log || exit 1
cp "$T_DIR/content" "$A/$d/$bad.tmp2"
ok "filedir_verify=log: the rename is allowed" mv "$A/$d/$bad.tmp2" "$A/$d/$bad"
umount_fs "$A"
# (both nodes storing the same content under the same tmp name at once:
# the slower writer's write-back meets the sealed inode, EPERM at close)
check_daemon_logs 'filedir: content of|fault injection: dying at .cas-after|write-back of inode .* failed: Operation not permitted'
done_testing
