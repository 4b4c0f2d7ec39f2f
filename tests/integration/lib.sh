# lib.sh - helpers for datarootfs integration tests (sourced by tNNNN-*.sh).
#
# A test runs against the cluster named by $CEPH_CONF (started by
# scripts/test.sh) and makes its own filesystem with a unique name, so tests
# never see each other's files.  Daemons run with -f; their PIDs are
# recorded and every mount is undone in the EXIT trap, pass or fail.
#
# Environment: CEPH_CONF, DRFS_BUILD (build dir), TEST_TMP (scratch dir).

set -u
: "${CEPH_CONF:?run through scripts/test.sh (CEPH_CONF not set)}"
: "${DRFS_BUILD:?DRFS_BUILD not set}"
DATAROOTFS=$DRFS_BUILD/daemon/datarootfs
DATAROOTCTL=$DRFS_BUILD/tools/datarootctl
T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "${TEST_TMP:-/tmp}/$T_NAME.XXXXXX")
chmod 0755 "$T_DIR"
T_FS="t$$_$(date +%s%N | tail -c 7)"
T_FAILS=0
T_CHECKS=0
declare -A T_PIDS=()

say() { echo "# $*"; }

# ok CONDITION-DESCRIPTION COMMAND...: run and record a TAP line.
ok() {
	local desc=$1
	shift
	T_CHECKS=$((T_CHECKS + 1))
	if "$@" >"$T_DIR/last.out" 2>&1; then
		echo "ok $T_CHECKS - $desc"
	else
		echo "not ok $T_CHECKS - $desc"
		sed 's/^/#   /' "$T_DIR/last.out" | tail -n 20
		T_FAILS=$((T_FAILS + 1))
	fi
}

# check DESC EXPECTED ACTUAL
check_eq() {
	T_CHECKS=$((T_CHECKS + 1))
	if [ "$2" == "$3" ]; then
		echo "ok $T_CHECKS - $1"
	else
		echo "not ok $T_CHECKS - $1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
		T_FAILS=$((T_FAILS + 1))
	fi
}

# contains DESC PATTERN TEXT: TEXT matches the extended regex PATTERN.
contains() {
	T_CHECKS=$((T_CHECKS + 1))
	if grep -qE -- "$2" <<<"$3"; then
		echo "ok $T_CHECKS - $1"
	else
		echo "not ok $T_CHECKS - $1"
		echo "#   pattern: $2"
		echo "#   text:    $3"
		T_FAILS=$((T_FAILS + 1))
	fi
}

ctl() { "$DATAROOTCTL" -c "$CEPH_CONF" -n "${FS:-$T_FS}" "$@"; }

mkfs_fs() { ctl mkfs "$@" >/dev/null; }

# mount_fs MNT [extra -o options]: start a daemon in the foreground (as a
# child), wait until MNT is a datarootfs mount.
mount_fs() {
	local mnt=$1 opts=${2:-} log pid deadline
	mkdir -p "$mnt"
	log="$T_DIR/daemon.$(basename "$mnt").log"
	# shellcheck disable=SC2086
	"$DATAROOTFS" -f -o "conf=$CEPH_CONF${opts:+,$opts}" "${FS:-$T_FS}" \
		"$mnt" >>"$log" 2>&1 &
	pid=$!
	T_PIDS[$mnt]=$pid
	deadline=$((SECONDS + 20))
	while ! grep -q " $mnt fuse.datarootfs " /proc/mounts; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "# daemon for $mnt died:"; sed 's/^/#   /' "$log"
			unset "T_PIDS[$mnt]"
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "# timeout mounting $mnt"; return 1
		fi
		sleep 0.05
	done
}

# umount_fs MNT: unmount, wait for the daemon to exit.
umount_fs() {
	local mnt=$1 pid=${T_PIDS[$1]:-} i
	if grep -q " $mnt fuse.datarootfs " /proc/mounts; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
	fi
	if [ -n "$pid" ]; then
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		unset "T_PIDS[$mnt]"
	fi
}

# crash_fs MNT: kill -9 the daemon, then clean up the dead mount.
crash_fs() {
	local mnt=$1 pid=${T_PIDS[$1]:-}
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	unset "T_PIDS[$mnt]"
	fusermount3 -u -z "$mnt" 2>/dev/null || true
}

# wait_bg: wait for the test's own background jobs (not the daemons).
wait_bg() {
	local p d skip
	for p in $(jobs -p); do
		skip=
		for d in "${T_PIDS[@]}"; do [ "$p" = "$d" ] && skip=1; done
		[ -n "$skip" ] || wait "$p" 2>/dev/null
	done
	return 0
}

T_EXTRA_MOUNTS=() # other mounts a test made (tmpfs...), undone last

t_cleanup() {
	local mnt
	for mnt in "${!T_PIDS[@]}"; do
		umount_fs "$mnt"
	done
	for mnt in "${T_EXTRA_MOUNTS[@]}"; do
		umount "$mnt" 2>/dev/null
	done
	rm -rf /dev/shm/datarootfs-*"$(basename "$T_DIR")"_*
	rm -rf "$T_DIR"
}
trap t_cleanup EXIT

# Daemon stderr must hold nothing but expected lines.  A daemon killed by
# a test leaves its invalidation watch at the OSDs for up to 10 s; a
# change made meanwhile fences that dead instance (5 s): expected after a
# crash, not a fault (t0310 checks the line where it is the point).
check_daemon_logs() {
	local bad
	bad=$(cat "$T_DIR"/daemon.*.log 2>/dev/null |
		grep -v -E 'info: (mounted|unmounting|kernel supports entry|kernel has no FUSE_NOTIFY_INC_EPOCH|metadata cache on|filedir: .* changed while it was stored)' |
		grep -v -E 'did not acknowledge a cache invalidation within [0-9]+ ms: blocklisted' |
		grep -v -E "${1:-^\$}" || true)
	check_eq "daemon logs hold no unexpected lines" "" "$bad"
}

done_testing() {
	echo "1..$T_CHECKS"
	[ "$T_FAILS" -eq 0 ]
}
