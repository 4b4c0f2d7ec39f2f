#!/usr/bin/env bash
# t1110: security.  A least-privilege cephx key (its pool and namespace,
# plus "osd blocklist add" for fencing) runs everything a node does; a key
# for another namespace can neither mount nor read this filesystem, not
# even with the rados tool.  With allow_other, POSIX permissions hold for
# every user *across nodes* exactly as on tmpfs (0600 file, sticky
# directory, setgid directory, private directory); the single-mount cases
# are in posix_suite (t0200).  Local state is private: the localcache
# directory is 0700 root and a directory planted there by another user is
# refused; the statistics files are read-only for everyone, root included.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CEPH="ceph -c $CEPH_CONF"
KA=t1110a$$ KB=t1110b$$ # cephx ids
ALICE=61001 BOB=61002 GRP=61003 # numeric ids only: no users are created
as_alice() { setpriv --reuid $ALICE --regid $ALICE --groups $GRP "$@"; }
as_bob() { setpriv --reuid $BOB --regid $BOB --clear-groups "$@"; }

sec_cleanup() {
	t_cleanup
	$CEPH auth rm "client.$KA" >/dev/null 2>&1
	$CEPH auth rm "client.$KB" >/dev/null 2>&1
	rm -rf "${PLANTED[@]}"
}
PLANTED=()
trap sec_cleanup EXIT

# --- keys ---
mon_caps='allow r, allow command "osd blocklist" with blocklistop=add'
$CEPH auth get-or-create "client.$KA" mon "$mon_caps" \
	osd "allow rwx pool=datarootfs namespace=$T_FS" -o "$T_DIR/a.keyring" >/dev/null 2>&1
$CEPH auth get-or-create "client.$KB" mon "$mon_caps" \
	osd "allow rwx pool=datarootfs namespace=${T_FS}x" -o "$T_DIR/b.keyring" >/dev/null 2>&1
ctl_a() { "$DATAROOTCTL" -c "$CEPH_CONF" -i "$KA" -k "$T_DIR/a.keyring" -n "$T_FS" "$@"; }
rados_as() { # rados_as ID KEYRING ARGS...: the rados tool in our namespace
	local id=$1 kr=$2
	shift 2
	rados -c "$CEPH_CONF" -n "client.$id" -k "$kr" -p datarootfs -N "$T_FS" "$@"
}

ok "mkfs with the least-privilege key" ctl_a mkfs --root-mode 0755
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" "id=$KA,keyring=$T_DIR/a.keyring,allow_other" || exit 1
mount_fs "$B" allow_other || exit 1 # node 2: the admin key
ok "write, read, rename, xattr and flock with the key" bash -c "
	set -e; mkdir -p '$A/p1/sub' '$A/p2'; echo data >'$A/p1/f'
	mv '$A/p1/sub' '$A/p2/'; mv '$A/p1/f' '$A/p2/sub/f'
	setfattr -n user.k -v v '$A/p2/sub/f'; getfattr -n user.k '$A/p2/sub/f'
	flock -x '$A/p2/sub/f' -c true; test \"\$(cat '$B/p2/sub/f')\" = data
	df '$A' >/dev/null"
contains "status with the key lists the node" "\"alive\":true" "$(ctl_a status --json)"
ok "fsck with the key finds nothing wrong" ctl_a fsck --no-data
dummy=127.0.0.1:0/$((RANDOM + 1000))
ok "the key may fence (osd blocklist add)" \
	$CEPH -n "client.$KA" -k "$T_DIR/a.keyring" osd blocklist add "$dummy" 60
ok "but not lift a fence (osd blocklist rm refused)" bash -c \
	"! $CEPH -n client.$KA -k '$T_DIR/a.keyring' osd blocklist rm '$dummy' 2>/dev/null"
$CEPH osd blocklist rm "$dummy" >/dev/null 2>&1
ok "the key cannot make a filesystem in another namespace" bash -c \
	"! '$DATAROOTCTL' -c '$CEPH_CONF' -i $KA -k '$T_DIR/a.keyring' -n '${T_FS}x' mkfs 2>/dev/null"

# a key for another namespace
mkdir -p "$T_DIR/nodeb"
out=$(timeout 30 "$DATAROOTFS" -f -o "conf=$CEPH_CONF,id=$KB,keyring=$T_DIR/b.keyring" \
	"$T_FS" "$T_DIR/nodeb" 2>&1)
rc=$?
ok "mount with another namespace's key fails (exit $rc)" test $rc -ne 0
check_eq "... with one line" 1 "$(grep -c . <<<"$out")"
contains "... that says why" "client\.$KB may not read filesystem '$T_FS' .*osd caps" "$out"
ok "rados with our key reads the superblock (the check below can fail)" \
	rados_as "$KA" "$T_DIR/a.keyring" getomapval sb magic
ok "rados with the other key cannot read it" bash -c \
	"! rados -c '$CEPH_CONF' -n client.$KB -k '$T_DIR/b.keyring' -p datarootfs -N '$T_FS' getomapval sb magic 2>/dev/null"
ok "nor list the namespace" bash -c \
	"! rados -c '$CEPH_CONF' -n client.$KB -k '$T_DIR/b.keyring' -p datarootfs -N '$T_FS' ls 2>/dev/null"
ok "nor read a data object" bash -c \
	"! rados -c '$CEPH_CONF' -n client.$KB -k '$T_DIR/b.keyring' -p datarootfs -N '$T_FS' get i.0000000000000001 - >/dev/null 2>&1"

# --- permissions across nodes, compared with tmpfs ---
# alice works on node 1, bob on node 2 (on tmpfs both are the same tree)
cat >"$T_DIR/steps.py" <<'PY'
import errno, os, stat, sys
who, d = sys.argv[1], sys.argv[2]
def r(name, fn):
    try:
        v = fn()
        print(name, "ok" if v is None else v)
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
def mk(p, mode, data=b""):
    fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode)
    os.write(fd, data)
    os.close(fd)
def read(p):
    with open(p) as f:
        return f.read()
def st(p):
    s = os.stat(p)
    return "%d:%d:%o" % (s.st_uid, s.st_gid, s.st_mode)
os.umask(0o022)
if who == "alice":
    r("alice-create-0600", lambda: mk(d + "/pub/a600", 0o600, b"secret"))
    r("alice-create-0644", lambda: mk(d + "/pub/a644", 0o644, b"public"))
    r("alice-mkdir-0700", lambda: os.mkdir(d + "/pub/adir", 0o700))
    r("alice-create-in-0700", lambda: mk(d + "/pub/adir/x", 0o666, b"x"))
    r("alice-mkdir-in-setgid", lambda: os.mkdir(d + "/grp/sub", 0o755))
    r("alice-create-in-setgid", lambda: mk(d + "/grp/f", 0o664))
else:
    r("bob-read-0600", lambda: read(d + "/pub/a600"))
    r("bob-read-0644", lambda: read(d + "/pub/a644"))
    r("bob-append-0644", lambda: open(d + "/pub/a644", "a").close())
    r("bob-chmod-alices", lambda: os.chmod(d + "/pub/a644", 0o666))
    r("bob-unlink-alices-sticky", lambda: os.unlink(d + "/pub/a644"))
    r("bob-rename-alices-sticky", lambda: os.rename(d + "/pub/a644", d + "/pub/m"))
    r("bob-create-own", lambda: mk(d + "/pub/b", 0o644, b"b"))
    r("bob-rename-own-over-alices", lambda: os.rename(d + "/pub/b", d + "/pub/a644"))
    r("bob-unlink-own", lambda: os.unlink(d + "/pub/b"))
    r("bob-list-0700", lambda: os.listdir(d + "/pub/adir"))
    r("bob-stat-in-0700", lambda: os.stat(d + "/pub/adir/x"))
    r("bob-create-in-setgid", lambda: mk(d + "/grp/b", 0o644))
    r("owner-0600", lambda: st(d + "/pub/a600"))
    r("owner-setgid-file", lambda: st(d + "/grp/f"))
    r("owner-setgid-subdir", lambda: st(d + "/grp/sub"))
PY
prepare() { # prepare ROOT: as root, the shared directories
	mkdir "$1/pub" "$1/grp" && chmod 1777 "$1/pub" &&
		chgrp $GRP "$1/grp" && chmod 2775 "$1/grp"
}
steps() { # steps ALICE_ROOT BOB_ROOT
	as_alice $PY "$T_DIR/steps.py" alice "$1"
	as_bob $PY "$T_DIR/steps.py" bob "$2"
}
REF=$T_DIR/tmpfs
mkdir -p "$REF" && mount -t tmpfs -o mode=0755 none "$REF" && T_EXTRA_MOUNTS+=("$REF")
prepare "$REF"
want=$(steps "$REF" "$REF")
prepare "$A"
got=$(steps "$A" "$B")
say "tmpfs reference: $(tr '\n' ' ' <<<"$want")"
check_eq "alice on node 1, bob on node 2: every permission outcome as on tmpfs" "$want" "$got"
contains "(the reference itself refuses bob)" '^bob-read-0600 EACCES$' "$want"

# --- local state ---
chmod 1777 "$A/localcache"
as_alice sh -c "umask 077; echo secret >'$A/localcache/a600'"
check_eq "localcache: alice's file is hers, 0600" "$ALICE:600" "$(stat -c %u:%a "$A/localcache/a600")"
ok "localcache: bob cannot read it" bash -c "! setpriv --reuid $BOB --regid $BOB --clear-groups cat '$A/localcache/a600' 2>/dev/null"
lcdir=$(find /dev/shm -maxdepth 1 -name "datarootfs-${T_FS}_*node1" -print -quit)
check_eq "localcache directory: root, 0700" "0:700" "$(stat -c %u:%a "$lcdir" 2>&1)"
ok "another user cannot list it" bash -c "! setpriv --reuid $BOB --regid $BOB --clear-groups ls '$lcdir' >/dev/null 2>&1"
# The symlink points at a decoy of the test's own, never at a real
# directory: a daemon that followed it would chmod it and take it over.
DECOY=$T_DIR/decoy
mkdir -m 0755 "$DECOY" && echo canary >"$DECOY/canary" && chown -R $BOB "$DECOY"
for kind in dir symlink; do
	C=$T_DIR/node3$kind
	mkdir -p "$C"
	planted=/dev/shm/datarootfs-${T_FS}$(tr / _ <<<"$C")
	PLANTED+=("$planted")
	if [ $kind = dir ]; then
		as_bob mkdir -m 0777 "$planted"
	else
		as_bob ln -s "$DECOY" "$planted"
	fi
	out=$(timeout 30 "$DATAROOTFS" -f -o "conf=$CEPH_CONF" "$T_FS" "$C" 2>&1)
	rc=$?
	ok "a localcache $kind planted by another user: mount refused (exit $rc)" test $rc -ne 0
	contains "... with one line saying why" 'localcache_path .*(belongs to uid|symlink)' "$out"
	check_eq "... one line" 1 "$(grep -c . <<<"$out")"
done
check_eq "the symlink's target was left alone" "$BOB:755 canary" \
	"$(stat -c %u:%a "$DECOY") $(cat "$DECOY/canary" 2>&1)"

# a mistaken localcache_path: only epoch directories are ever removed
LCX=$T_DIR/lcmix
mkdir -p "$LCX/0/old" && echo keep >"$LCX/precious"
mount_fs "$T_DIR/node4" "localcache_path=$LCX" || exit 1
sleep 0.5 # old epochs go in a background thread
check_eq "localcache_path's other files stay, old epochs go" "keep absent" \
	"$(cat "$LCX/precious" 2>&1) $(test -e "$LCX/0" && echo present || echo absent)"
umount_fs "$T_DIR/node4"

# --- statistics files: read-only for everyone ---
S=$A/.datarootfs-stats.txt
contains "statistics readable" '^filesystem ' "$(cat "$S")"
for who in root bob; do
	run() { if [ $who = bob ]; then as_bob "$@"; else "$@"; fi; }
	res=$(
		run sh -c "echo x >'$S'" 2>&1 && echo "write ok"
		run sh -c "echo x >>'$S'" 2>&1 && echo "append ok"
		run truncate -s 0 "$S" 2>&1 && echo "truncate ok"
		run chmod 0666 "$S" 2>&1 && echo "chmod ok"
		run chown $BOB "$S" 2>&1 && echo "chown ok"
		run touch "$S" 2>&1 && echo "touch ok"
		run rm -f "$S" 2>&1 && echo "rm ok"
		run mv "$S" "$A/moved" 2>&1 && echo "mv ok"
		run ln "$S" "$A/hard" 2>&1 && echo "ln ok"
		run setfattr -n user.x -v 1 "$S" 2>&1 && echo "setfattr ok"
	)
	check_eq "as $who: 10 kinds of change of a statistics file all refused" 0 "$(grep -c ' ok$' <<<"$res")"
	check_eq "as $who: ... each with EACCES or EPERM" 10 \
		"$(grep -cE 'Permission denied|Operation not permitted' <<<"$res")"
done

umount_fs "$A"
umount_fs "$B"
check_daemon_logs "localcache_path .*lcmix is not on tmpfs"
done_testing
