#!/usr/bin/env bash
# t0800: the documented fstab line mounts through mount(8) and mount.fuse3.
#
#   SOURCE MNT fuse.datarootfs _netdev,allow_other,conf=CEPH_CONF 0 0
#
# in an alternative fstab file (mount -T FILE MNT): mount(8) runs
# /sbin/mount.fuse (mount.fuse3) with -t fuse.datarootfs, which runs
# "datarootfs SOURCE MNT -o OPTIONS" through /bin/sh.  The daemon forks, the
# parent exits with the child's mount status, the child stays in the
# background (not a child of this test).  Checked: exit status, the
# /proc/mounts line, _netdev kept by mount (not passed on), allow_other in
# effect, a file written through it is seen by a second mount made with the
# test helpers (and the other way round), umount works and the daemon exits
# by itself; a bad option and a missing filesystem in the fstab line give a
# non-zero mount exit and a one-line error; nothing is left behind (mounts,
# daemons, utab entries).
#
# mount(8) does not pass its caller's PATH to helpers: /bin/sh looks for
# datarootfs in its default PATH, /usr/local/sbin first.  So that the build
# under test is the one found (and not an installed copy), the test runs in
# a private mount namespace in which a scratch directory holding only a
# datarootfs symlink is bind-mounted over /usr/local/sbin.  Nothing outside
# the namespace changes.
if [ -z "${T0800_IN_NS:-}" ]; then
	if ! command -v unshare >/dev/null; then
		echo "not ok 1 - unshare(1) is needed (util-linux)"
		exit 1
	fi
	T0800_IN_NS=1 exec unshare --mount --propagation private \
		bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

MNT=$T_DIR/fstab-node      # mounted from the fstab file
BAD=$T_DIR/fstab-bad       # fstab line with an unknown option
NOFS=$T_DIR/fstab-nofs     # fstab line naming no filesystem
N2=$T_DIR/node2            # second mount, made with the test helpers
FSTAB=$T_DIR/fstab
SBIN=$T_DIR/sbin
UTAB=/run/mount/utab
FSTAB_PID=

# The daemons started by mount(8) for the mount point $1 (PIDs, one a line):
# "datarootfs SOURCE MOUNTPOINT -o ...", as mount.fuse3 runs it.
daemon_pids() {
	pgrep -f "^([^ ]*/)?datarootfs [^ ]+ ${1//./\\.}( |\$)"
}

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
	local _
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	! kill -0 "$1" 2>/dev/null
}

t0800_cleanup() {
	local m p
	for m in "$MNT" "$BAD" "$NOFS"; do
		if grep -q " $m fuse" /proc/mounts; then
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
		for p in $(daemon_pids "$m"); do
			wait_gone "$p" 5 || kill -9 "$p" 2>/dev/null
		done
	done
	if grep -q " /usr/local/sbin " /proc/self/mounts; then
		umount /usr/local/sbin 2>/dev/null || true
	fi
	# Node-local directories a daemon may keep for this test's filesystem
	# (named after the unique $T_FS).
	for m in /dev/shm/datarootfs-"$T_FS" /dev/shm/datarootfs-"$T_FS"_*; do
		[ -e "$m" ] && rm -rf -- "$m"
	done
	t_cleanup
}
trap t0800_cleanup EXIT

mkfs_fs
mkdir -p "$MNT" "$BAD" "$NOFS" "$SBIN"

# --- the helper PATH: this build's datarootfs in /usr/local/sbin -----------
ln -s "$DATAROOTFS" "$SBIN/datarootfs"
ok "bind the scratch sbin over /usr/local/sbin (private namespace)" \
	mount --bind "$SBIN" /usr/local/sbin
check_eq "mount's helper shell finds this build's datarootfs" \
	"$DATAROOTFS" "$(readlink -f "$(env -i /bin/sh -c 'command -v datarootfs')")"

cat >"$FSTAB" <<EOF
# written by $T_NAME
$T_FS $MNT fuse.datarootfs _netdev,allow_other,conf=$CEPH_CONF 0 0
$T_FS $BAD fuse.datarootfs _netdev,allow_other,conf=$CEPH_CONF,bogus_option=1 0 0
nosuchfs_$T_FS $NOFS fuse.datarootfs _netdev,allow_other,conf=$CEPH_CONF 0 0
EOF

# --- mount from the fstab line ----------------------------------------------
timeout 60 mount -T "$FSTAB" "$MNT" >"$T_DIR/mount.out" 2>&1
rc=$?
check_eq "mount -T FSTAB MNT: exit 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T_DIR/mount.out"
check_eq "mount printed nothing but the 'mounted' line" "" \
	"$(grep -v 'info: mounted' "$T_DIR/mount.out")"
line=$(grep " $MNT " /proc/mounts)
contains "in /proc/mounts as type fuse.datarootfs with source $T_FS" \
	"^$T_FS $MNT fuse\.datarootfs " "$line"
contains "allow_other is in effect" "[ ,]allow_other([ ,]|\$)" "$line"
contains "default_permissions is in effect" "[ ,]default_permissions([ ,]|\$)" "$line"
ok "mount(8) keeps _netdev for itself (utab)" \
	grep -qE "TARGET=$MNT .*OPTS=([^ ]*,)?_netdev(,| |\$)" "$UTAB"

pids=$(daemon_pids "$MNT")
check_eq "exactly one daemon serves the fstab mount" 1 "$(echo "$pids" | grep -c .)"
FSTAB_PID=$(echo "$pids" | head -n 1)
if [ -n "$FSTAB_PID" ]; then
	say "daemon PID $FSTAB_PID: $(tr '\0' ' ' </proc/"$FSTAB_PID"/cmdline)"
	ppid=$(ps -o ppid= -p "$FSTAB_PID" | tr -d ' ')
	sid=$(ps -o sid= -p "$FSTAB_PID" | tr -d ' ')
	ok "the daemon runs in the background (parent $ppid is not this test)" \
		test "$ppid" != $$
	check_eq "the daemon leads its own session (detached from mount)" \
		"$FSTAB_PID" "$sid"
	cmd=$(tr '\0' ' ' </proc/"$FSTAB_PID"/cmdline)
	contains "the daemon got allow_other and conf= from the fstab line" \
		"-o [^ ]*allow_other,conf=$CEPH_CONF" "$cmd"
	ok "the daemon did not get _netdev (mount keeps it)" \
		bash -c "! grep -q _netdev <<<'$cmd'"
fi

# --- it is the shared filesystem --------------------------------------------
ok "second mount (test helpers)" mount_fs "$N2"
echo "written through fstab mount" >"$MNT/from-fstab"
check_eq "a file written through the fstab mount reads on the second mount" \
	"written through fstab mount" "$(cat "$N2/from-fstab" 2>&1)"
mkdir "$N2/dir2" && echo back >"$N2/dir2/f"
check_eq "a file written on the second mount reads through the fstab mount" \
	back "$(cat "$MNT/dir2/f" 2>&1)"
chmod 0755 "$MNT"
ok "allow_other: another user (nobody) can list the fstab mount" \
	setpriv --reuid=65534 --regid=65534 --clear-groups ls "$MNT/dir2"

# --- umount -------------------------------------------------------------------
ok "umount MNT: exit 0" timeout 60 umount "$MNT"
ok "the fstab mount is gone from /proc/mounts" \
	bash -c "! grep -q ' $MNT ' /proc/mounts"
if [ -n "$FSTAB_PID" ]; then
	if wait_gone "$FSTAB_PID" 10; then
		ok "the daemon exited after umount" true
	else
		ok "the daemon exited after umount (still running 10 s later: $(cat /proc/"$FSTAB_PID"/wchan 2>/dev/null))" false
		kill -9 "$FSTAB_PID" 2>/dev/null
	fi
fi
ok "no utab entry left for MNT" bash -c "! grep -qF 'TARGET=$MNT ' $UTAB"
check_eq "the file is still there (second mount)" \
	"written through fstab mount" "$(cat "$N2/from-fstab" 2>&1)"

# --- bad fstab lines: non-zero exit, one line, nothing left ------------------
start=$SECONDS
timeout 60 mount -T "$FSTAB" "$BAD" >"$T_DIR/bad.out" 2>&1
rc=$?
out=$(cat "$T_DIR/bad.out")
ok "unknown option: mount exits non-zero (exit $rc)" test "$rc" != 0 -a "$rc" != 124
ok "unknown option: refused at once" test $((SECONDS - start)) -le 5
check_eq "unknown option: one line of error" 1 "$(grep -c . <<<"$out")"
contains "unknown option: the line names the option" bogus_option "$out"
[ "$(grep -c . <<<"$out")" = 1 ] || say "it said: $(echo "$out" | tr '\n' '|')"
ok "unknown option: not mounted" bash -c "! grep -q ' $BAD ' /proc/mounts"
check_eq "unknown option: no daemon left" "" "$(daemon_pids "$BAD")"

timeout 60 mount -T "$FSTAB" "$NOFS" >"$T_DIR/nofs.out" 2>&1
rc=$?
out=$(cat "$T_DIR/nofs.out")
ok "missing filesystem: mount exits non-zero (exit $rc)" test "$rc" != 0 -a "$rc" != 124
check_eq "missing filesystem: one line of error" 1 "$(grep -c . <<<"$out")"
contains "missing filesystem: says to run mkfs" 'datarootctl mkfs' "$out"
ok "missing filesystem: not mounted" bash -c "! grep -q ' $NOFS ' /proc/mounts"
check_eq "missing filesystem: no daemon left" "" "$(daemon_pids "$NOFS")"

# --- leave nothing behind -----------------------------------------------------
umount_fs "$N2"
check_daemon_logs
ok "no datarootfs mount left under the test directory" \
	bash -c "! grep -q ' $T_DIR/' /proc/mounts"
ok "no utab entry left under the test directory" \
	bash -c "! grep -qF 'TARGET=$T_DIR/' $UTAB"
check_eq "no daemon left for any fstab line" "" \
	"$(daemon_pids "$MNT"; daemon_pids "$BAD"; daemon_pids "$NOFS")"
done_testing
