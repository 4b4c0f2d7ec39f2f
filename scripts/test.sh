#!/usr/bin/env bash
# test.sh - the one test command: deps, build, unit tests, a private Ceph
# cluster on a free loopback port, integration tests through real FUSE
# mounts, teardown (also on failure or Ctrl-C).  Exits non-zero on any
# failure and ends with a summary line.
#
#   scripts/test.sh [PATTERN]     run integration tests matching PATTERN
#   scripts/test.sh --fast [PATTERN]
#                                 the fast tier: unit tests and the core
#                                 integration tests only (FAST_TESTS below)
#
# The default is the full suite (what CI runs).  Environment: CI=true
# turns warnings into errors; DRFS_SANITIZE=1 builds with ASan/UBSan
# (separate build dir); DRFS_FAST=1 is the same as --fast.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
FAST=${DRFS_FAST:-0}
if [ "${1:-}" = --fast ]; then
	FAST=1
	shift
fi
PATTERN=${1:-}
# The core of the filesystem, a few minutes: mount, POSIX, two nodes,
# crash consistency, fsck, locks, filedir.  The rest (fsx, bad input,
# purge, the admin tool, fstab, localcache, read cache, the fault suite)
# runs in the full suite.
FAST_TESTS=(t0001-mount t0200-posix t0300-two-node t0400-crash t0600-fsck
	t0700-locks t0950-filedir)

in_fast_tier() {
	local f
	for f in "${FAST_TESTS[@]}"; do
		[ "$f" = "$1" ] && return 0
	done
	return 1
}
if [ "$FAST" = 1 ]; then
	for f in "${FAST_TESTS[@]}"; do
		if [ ! -f "tests/integration/$f.sh" ]; then
			echo "test.sh: fast tier names $f, which does not exist" >&2
			exit 2
		fi
	done
fi

step() { echo "=== $*"; }

step "dependencies"
scripts/install-deps.sh

BUILD=$TOP/build
opts=()
if [ "${CI:-}" = true ]; then
	BUILD=$TOP/build-ci
	opts+=(-Dwerror=true)
fi
if [ "${DRFS_SANITIZE:-0}" = 1 ]; then
	BUILD=$TOP/build-asan
	# errors abort; leak reports are for valgrind runs, not every exit
	export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	opts+=(-Dsanitize=true -Db_lundef=false)
fi
step "build ($BUILD)"
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "${opts[@]}" >/dev/null
fi
if ! out=$(ninja -C "$BUILD" 2>&1); then
	echo "$out" >&2
	echo "build failed" >&2
	exit 1
fi

unit_rc=0
step "unit tests"
meson test -C "$BUILD" --print-errorlogs || unit_rc=$?

# A private cluster on a free port above the OSD range.
WORK=$(mktemp -d /tmp/drfs-test.XXXXXX)
chmod 0755 "$WORK" # the POSIX suite runs cases as other users
CLUSTER=$WORK/cluster
# kill_tree PID: SIGTERM PID's descendants, deepest first, then PID
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do
		kill_tree "$c"
	done
	kill -TERM "$1" 2>/dev/null
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e # best effort: one failing step must not skip the others
	# the fault lane, if it still runs: its test's workloads and daemons
	# (SIGTERM: they unmount), the test, then the lane itself
	if [ -n "${lane_pid:-}" ]; then
		kill_tree "$lane_pid"
		wait "$lane_pid" 2>/dev/null
	fi
	# Mounts of this run first (daemons are children of the tests), then
	# the cluster, then the scratch space.
	grep -F " $WORK/" /proc/mounts | awk '{print $2}' | while read -r m; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	scripts/dev-cluster.sh down "$CLUSTER" >/dev/null 2>&1 || true
	# private clusters of the fault tests (t10NN) that were cut short
	for c in "$WORK"/*/cluster; do
		[ -e "$c/.dev-cluster" ] && scripts/dev-cluster.sh down "$c" >/dev/null 2>&1
	done
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$((41000 + RANDOM % 2000))
while ss -ltn 2>/dev/null | grep -q ":$port "; do
	port=$((port + 1))
done
step "cluster ($CLUSTER, port $port)"
scripts/dev-cluster.sh up "$CLUSTER" --port "$port" >"$WORK/cluster.env"
# shellcheck disable=SC1091
. "$WORK/cluster.env"
export CEPH_CONF DRFS_BUILD=$BUILD TEST_TMP=$WORK TOP

step "integration tests"
# Two lanes: the fault tests (they source faultlib.sh: OSD loss and
# cluster restart on a cluster of their own, SIGTERM and the soak on a
# filesystem of their own) run one after another beside the other tests,
# which wait for them before the first test at or after LANE_JOIN: the
# lock tests count RADOS round trips and measure handoffs, so they run
# with the machine to themselves.  The fault lane's results are printed
# when it is done.
LANE_JOIN=t0700
pass=0
fail=0
failed=()
selected() {
	[ -n "$PATTERN" ] && [[ $1 != *$PATTERN* ]] && return 1
	[ "$FAST" = 1 ] && ! in_fast_tier "$1" && return 1
	return 0
}
# run_one NAME: one test, its result line, its failures; 0 if it passed
run_one() {
	local start=$SECONDS
	if bash "tests/integration/$1.sh" >"$WORK/$1.log" 2>&1; then
		echo "PASS $1 ($((SECONDS - start)) s)"
		return 0
	fi
	echo "FAIL $1 ($((SECONDS - start)) s)"
	grep -E '^(not ok|#)' "$WORK/$1.log" | head -n 40 | sed 's/^/    /'
	return 1
}
tally() { # tally NAME RC
	if [ "$2" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$1")
	fi
}
lane1=() lane2=()
for t in tests/integration/t[0-9]*.sh; do
	name=$(basename "$t" .sh)
	selected "$name" || continue
	if grep -q '^\. .*/faultlib\.sh"$' "$t"; then
		lane2+=("$name")
	else
		lane1+=("$name")
	fi
done
lane_pid=
if [ ${#lane2[@]} -gt 0 ]; then
	(
		for name in "${lane2[@]}"; do
			rc=0
			run_one "$name" >"$WORK/lane2.$name.out" || rc=$?
			echo "$name $rc" >>"$WORK/lane2.done"
		done
	) &
	lane_pid=$!
fi
join_lane2() {
	[ -n "$lane_pid" ] || return 0
	wait "$lane_pid" || true
	lane_pid=
	echo "--- fault lane (beside the tests above)"
	local name rc
	while read -r name rc; do
		cat "$WORK/lane2.$name.out"
		tally "$name" "$rc"
	done <"$WORK/lane2.done"
	# a test the lane never finished (it was killed) counts as failed
	for name in "${lane2[@]}"; do
		grep -q "^$name " "$WORK/lane2.done" 2>/dev/null ||
			tally "$name" 1
	done
}
for name in "${lane1[@]}"; do
	[[ ! $name < $LANE_JOIN ]] && join_lane2
	rc=0
	run_one "$name" || rc=$?
	tally "$name" "$rc"
done
join_lane2

echo
tier=full
[ "$FAST" = 1 ] && tier=fast
echo "($tier tier, $SECONDS s in all)"
if [ $unit_rc -ne 0 ] || [ $fail -ne 0 ]; then
	echo "SUMMARY: FAILED - unit tests $([ $unit_rc -eq 0 ] && echo passed || echo FAILED), integration $pass passed, $fail failed (${failed[*]})"
	exit 1
fi
echo "SUMMARY: OK - unit tests passed, integration $pass passed, 0 failed"
