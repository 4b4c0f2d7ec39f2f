#!/usr/bin/env bash
# t0500: bad and extreme input: name lengths (255 works, 256 is
# ENAMETOOLONG for every call that makes a name, and for lookups), every
# byte but '/' and NUL in names, a 300-deep tree, and a full pool (a RADOS
# pool quota): ENOSPC, never a hang, never a half-written file under a final
# name; deletes still work; writing resumes when the quota is raised.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

# op.py OP ARG...: one system call; prints OK or the errno name.
cat >"$T_DIR/op.py" <<'EOF'
import errno, os, sys
op, args = sys.argv[1], [os.fsencode(a) for a in sys.argv[2:]]
try:
    if op == 'create':
        os.close(os.open(args[0], os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
    elif op == 'mkdir':
        os.mkdir(args[0])
    elif op == 'rename':
        os.rename(args[0], args[1])
    elif op == 'symlink':
        os.symlink(args[0], args[1])
    elif op == 'link':
        os.link(args[0], args[1])
    elif op == 'stat':
        os.lstat(args[0])
    elif op == 'open':
        os.close(os.open(args[0], os.O_RDONLY))
    print('OK')
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
op() { python3 "$T_DIR/op.py" "$@"; }

# ------------------------------------------------------------ name lengths
n255=$(printf 'a%.0s' $(seq 255))
n256=$(printf 'b%.0s' $(seq 256))
m255=$(printf 'm%.0s' $(seq 254))x
mkdir "$A/names"
N=$A/names
check_eq "create with a 255-byte name" OK "$(op create "$N/$n255")"
check_eq "create with a 256-byte name: ENAMETOOLONG" ENAMETOOLONG "$(op create "$N/$n256")"
check_eq "mkdir with a 256-byte name: ENAMETOOLONG" ENAMETOOLONG "$(op mkdir "$N/$n256")"
check_eq "mkdir with a 255-byte name" OK "$(op mkdir "$N/$m255")"
check_eq "rename to a 255-byte name" OK "$(op rename "$N/$n255" "$N/${n255%a}r")"
check_eq "rename to a 256-byte name: ENAMETOOLONG" ENAMETOOLONG "$(op rename "$N/${n255%a}r" "$N/$n256")"
check_eq "rename of a directory to a 256-byte name in another directory: ENAMETOOLONG" \
	ENAMETOOLONG "$(op rename "$N/$m255" "$A/$n256")"
check_eq "symlink with a 255-byte name" OK "$(op symlink target "$N/${n255%a}s")"
check_eq "symlink with a 256-byte name: ENAMETOOLONG" ENAMETOOLONG "$(op symlink target "$N/$n256")"
check_eq "link with a 255-byte name" OK "$(op link "$N/${n255%a}r" "$N/${n255%a}l")"
check_eq "link with a 256-byte name: ENAMETOOLONG" ENAMETOOLONG "$(op link "$N/${n255%a}r" "$N/$n256")"
check_eq "lookup of a 256-byte component: ENAMETOOLONG" ENAMETOOLONG "$(op stat "$N/$n256")"
check_eq "lookup of a 256-byte component in the middle of a path: ENAMETOOLONG" \
	ENAMETOOLONG "$(op stat "$N/$n256/x")"
check_eq "open of a 256-byte component: ENAMETOOLONG" ENAMETOOLONG "$(op open "$A/$n256")"
check_eq "nothing with a 256-byte name was made" "" "$(ls "$B/names" "$B" | grep -E '^.{256}')"
check_eq "node2 lists the 255-byte names" 4 "$(ls -A "$B/names" | grep -cE '^.{255}$')"
echo long >"$A/names/${n255%a}r"
check_eq "node2 reads a file by its 255-byte name" long "$(cat "$B/names/${n255%a}r")"
check_eq "the 255-byte hard link shares it (nlink 2)" 2 "$(stat -c %h "$B/names/${n255%a}l")"
check_eq "the 255-byte symlink reads back" target "$(readlink "$B/names/${n255%a}s")"
ok "rm -rf of the 255-byte names" rm -rf "$B/names"

# ------------------------------------------------------------ name bytes
# Every byte but NUL and '/' (which the kernel splits on) is a name byte.
cat >"$T_DIR/bytes.py" <<'EOF'
import os, sys
a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
names = [bytes([c]) for c in range(1, 256) if c not in (ord('/'), ord('.'))]
names += [bytes(c for c in range(1, 128) if c != ord('/')),   # 126 bytes
          bytes(range(128, 256)),                            # not UTF-8
          b'...', b'.hidden', b'-rf', b' lead and trail ', b'new\nline',
          b'\xff\xfe' * 100, 'ünïcødé ✓ 日本語'.encode()]
bad = []
for i, n in enumerate(names):
    try:
        with open(os.path.join(a, n), 'wb') as f:
            f.write(b'%d' % i)
    except OSError as e:
        bad.append('create %r: %s' % (n, e.strerror))
seen = set(os.listdir(b))
for i, n in enumerate(names):
    if n not in seen:
        bad.append('%r not listed on node2' % n)
        continue
    try:
        with open(os.path.join(b, n), 'rb') as f:
            if f.read() != b'%d' % i:
                bad.append('%r: wrong content on node2' % n)
        os.rename(os.path.join(b, n), os.path.join(b, n + b'.r'))
        os.unlink(os.path.join(a, n + b'.r'))
    except OSError as e:
        bad.append('%r: %s' % (n, e.strerror))
extra = set(os.listdir(b))
if extra:
    bad.append('left over: %r' % sorted(extra)[:5])
print('%d names' % len(names), file=sys.stderr)
print('\n'.join(bad))
EOF
mkdir "$A/bytes"
check_eq "names of every byte 1..255 but '/': create, list and read on node2, rename, unlink" \
	"" "$(python3 "$T_DIR/bytes.py" "$A/bytes" "$B/bytes" 2>/dev/null)"
rmdir "$A/bytes"

# ------------------------------------------------------------ deep tree
deep=$(printf 'd%03d/' $(seq 300))
start=$SECONDS
ok "mkdir -p of a 300-deep tree (path of $((${#deep})) bytes)" mkdir -p "$A/deep/$deep"
echo bottom >"$A/deep/${deep}file"
check_eq "node2 reads the file at the bottom" bottom "$(cat "$B/deep/${deep}file")"
check_eq "find on node2 sees all 300 levels and the file" 302 "$(find "$B/deep" | wc -l)"
ok "rm -rf of the deep tree on node2" rm -rf "$B/deep"
ok "and node1 sees it gone" test ! -e "$A/deep"
say "deep tree: $((SECONDS - start)) s"

# ------------------------------------------------------------ full pool
umount_fs "$A"
umount_fs "$B"
P=drfs_quota_$$
ceph_() { timeout 60 ceph -c "$CEPH_CONF" "$@"; }
pool_rm() {
	ceph_ osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1 && return 0
	ceph_ config set mon mon_allow_pool_delete true >/dev/null 2>&1
	ceph_ osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1
}
pool_made=
trap 't_cleanup; [ -n "$pool_made" ] && pool_rm' EXIT

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
ok "quota max_bytes 30000000" ceph_ osd pool set-quota "$P" max_bytes 30000000
QFS=q$T_FS
ok "mkfs in the pool" "$DATAROOTCTL" -c "$CEPH_CONF" -p "$P" -n "$QFS" mkfs
FS=$QFS mount_fs "$A" "pool=$P" || exit 1
FS=$QFS mount_fs "$B" "pool=$P" || exit 1
mkdir -p "$A/filedir" "$A/temp"
touch "$A/temp/late" # created now, written once the pool is full

# Fill it: 2 MiB files until a write or close fails (the quota is applied
# once the mgr has reported the pool's usage, a few seconds late).
start=$SECONDS
timeout 120 bash -c '
	for i in $(seq 200); do
		if ! out=$(head -c 2097152 /dev/urandom |
			dd of="$0/temp/fill$i" bs=1M iflag=fullblock status=none 2>&1); then
			echo "$i $out"
			exit 0
		fi
		sleep 0.3
	done
	echo "200 never failed"' "$A" >"$T_DIR/fill.out" 2>&1
rc=$?
fill=$(cat "$T_DIR/fill.out")
check_eq "filling the pool ends without a hang (timeout 120)" 0 "$rc"
contains "the failing write/close says ENOSPC" "No space left on device" "$fill"
say "pool full after ${fill%% *} files of 2 MiB, $((SECONDS - start)) s: ${fill#* }"
ok "the filesystem still answers (ls, stat on node2)" timeout 20 ls -l "$B/temp"

# Writing into a file that exists already (no new object): the write or
# the close must fail with ENOSPC, never lose the data silently.
out=$(head -c 3000000 /dev/urandom | timeout 60 dd of="$A/temp/late" bs=1M iflag=fullblock status=none 2>&1)
rc=$?
ok "writing 3 MB into an existing file on a full pool fails (dd exit $rc), no hang" test $rc != 0 -a $rc != 124
contains "and says ENOSPC" "No space left on device" "$out"
ok "reading that file afterwards never fails with EIO" cat "$B/temp/late"
say "its size after the failed write: $(stat -c %s "$B/temp/late"); dd said: $out"

# Moodle's add_file_to_pool on a full pool: the copy fails, so no rename.
head -c 1500000 /dev/urandom >"$T_DIR/new"
h=$(sha1sum <"$T_DIR/new" | cut -c1-40)
d=$A/filedir/${h:0:2}/${h:2:2}
out=$(timeout 60 bash -c '
	mkdir -p "$1" 2>&1 || exit 0
	rm -f "$1/$2.tmp"
	if cp "$3" "$1/$2.tmp" 2>&1; then
		mv "$1/$2.tmp" "$1/$2"
		echo COPIED
	fi' _ "$d" "$h" "$T_DIR/new")
rc=$?
check_eq "tmp+rename on a full pool: no hang" 0 "$rc"
contains "tmp+rename on a full pool: the copy fails with ENOSPC" "No space left on device" "$out"
ok "tmp+rename on a full pool: the final name does not exist (node2)" \
	test ! -e "$B/filedir/${h:0:2}/${h:2:2}/$h"
tsz=$(stat -c %s "$B/filedir/${h:0:2}/${h:2:2}/$h.tmp" 2>/dev/null || echo absent)
say "the tmp file after the failed copy: $tsz"
ok "reading whatever the failed copy left never fails with EIO" \
	bash -c "[ ! -e '$d/$h.tmp' ] || cat '$d/$h.tmp' >/dev/null"
ok "a fresh open(O_CREAT) and close of an empty file on a full pool: ok or ENOSPC, no hang" \
	bash -c "timeout 30 touch '$A/temp/empty' 2>&1; test \$? != 124"

# Deleting while full must work.
first=$(ls "$A/temp" | grep fill | head -n 3)
ok "rm of files on a full pool returns 0" timeout 60 bash -c "cd '$A/temp' && rm -f $(echo $first)"
ok "rm of the failed tmp returns 0" timeout 60 rm -f "$d/$h.tmp"
ok "the removed files are gone on node2" bash -c "cd '$B/temp' && for f in $(echo $first); do test ! -e \$f || exit 1; done"
ok "rm -rf of a directory on a full pool" timeout 60 bash -c "mkdir -p '$A/temp/x' 2>/dev/null; rm -rf '$A/temp/x'"

# Raise the quota: writing works again within 30 s.
ok "remove the quota" ceph_ osd pool set-quota "$P" max_bytes 0
start=$SECONDS
back=
while [ $((SECONDS - start)) -lt 30 ]; do
	if timeout 20 bash -c "head -c 2097152 /dev/urandom >'$T_DIR/again' &&
		dd if='$T_DIR/again' of='$A/temp/again' bs=1M status=none" 2>/dev/null; then
		back=1
		break
	fi
	sleep 1
done
ok "writing works again after the quota is raised ($((SECONDS - start)) s)" test -n "$back"
check_eq "and node2 reads what was written" "$(sha1sum <"$T_DIR/again")" "$(sha1sum <"$B/temp/again")"
ok "Moodle's tmp+rename works again" bash -c "
	mkdir -p '$d' && cp '$T_DIR/new' '$d/$h.tmp' && mv '$d/$h.tmp' '$d/$h'"
check_eq "the stored file has its content (node2)" "$h" \
	"$(sha1sum <"$B/filedir/${h:0:2}/${h:2:2}/$h" | cut -c1-40)"
if "$DATAROOTCTL" fsck --help >/dev/null 2>&1; then
	out=$("$DATAROOTCTL" -c "$CEPH_CONF" -p "$P" -n "$QFS" fsck 2>&1); rc=$?
	check_eq "fsck after the full pool episode: clean" 0 "$rc"
	[ $rc = 0 ] || sed 's/^/#   /' <<<"$out" | head -n 10
fi

umount_fs "$A"
umount_fs "$B"
ok "delete pool $P" pool_rm
pool_made=
done_testing
