#!/usr/bin/env bash
# t0700: cluster-wide flock and fcntl locks between two nodes: exact
# counters, Moodle's lock factory and session patterns, F_GETLK across
# nodes, interrupted waiters, release on close, and a crashed holder
# losing its locks after its lease (and being fenced).
. "$(dirname "$0")/lib.sh"
LC=$DRFS_BUILD/tests/lockcount
PY=/usr/bin/python3

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

count() { # count MODE OPENMODE N: 2 nodes x 2 processes x N increments
	echo 0 >"$A/counter"
	local pids=() m p
	for m in "$A" "$B"; do
		for p in 1 2; do
			"$LC" "$1" "$2" "$m/counter" "$3" & pids+=($!)
		done
	done
	wait "${pids[@]}"
	cat "$B/counter"
}
check_eq "flock, fd kept open (PHP sessions): 2x2x300 increments exact" 1200 "$(count flock keep 300)"
check_eq "fcntl, fd kept open: 2x2x300 increments exact" 1200 "$(count fcntl keep 300)"
check_eq "flock, reopen per increment: exact" 800 "$(count flock reopen 200)"
n=$(count none keep 300)
ok "without locks the same test loses updates ($n of 1200): the test can fail" test "$n" -lt 1200

# F_GETLK on node2 reports a lock held on node1
touch "$A/g"
$PY - "$A/g" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX, 100, 10)
time.sleep(3)
PY
holder=$!
sleep 1
got=$($PY - "$B/g" <<'PY'
import fcntl, struct, sys
f = open(sys.argv[1], "r+")
fl = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
r = fcntl.fcntl(f, fcntl.F_GETLK, fl)
t, w, start, ln, pid = struct.unpack("hhqqi", r)
print(t == fcntl.F_WRLCK, start, ln, pid > 0)
PY
)
check_eq "F_GETLK on node2 sees node1's write lock on bytes 10..109" "True 10 100 True" "$got"
got=$($PY - "$B/g" <<'PY'
import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 0)
    print("disjoint-ok")
except OSError as e:
    print("refused", e.errno)
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 105)
    print("overlap-granted")
except OSError as e:
    print("overlap-refused")
PY
)
check_eq "byte ranges: disjoint granted, overlapping refused across nodes" "disjoint-ok
overlap-refused" "$got"
wait $holder

# Moodle's file lock factory: O_TRUNC while held elsewhere, LOCK_NB polling
mkdir -p "$A/lock/ab"
L=lock/ab/0123456789abcdef
touch "$A/$L"
( exec 9>"$A/$L"; flock -x 9; sleep 2 ) & holder=$!
sleep 0.5
start=$(date +%s%N)
res=$(for i in $(seq 100); do
	if ( exec 9>"$B/$L"; flock -n -x 9 ); then echo "got after $i"; break; fi
	sleep 0.1
done)
waited=$((($(date +%s%N) - start) / 1000000))
wait $holder
contains "lock factory: node2 polls with LOCK_NB and gets the lock after node1 releases" '^got after' "$res"
ok "lock factory: not before the holder let go (waited ${waited} ms)" test "$waited" -ge 1200

# PHP session pattern: blocking LOCK_EX held for seconds on node1
touch "$A/sess_x"
( exec 9<>"$A/sess_x"; flock -x 9; echo held >&9; sleep 3 ) & holder=$!
sleep 0.5
start=$(date +%s%N)
flock -x "$B/sess_x" -c true
waited=$((($(date +%s%N) - start) / 1000000))
wait $holder
ok "session pattern: node2 blocked while node1 held the lock (${waited} ms)" test "$waited" -ge 2000
ok "session pattern: woken promptly after release (${waited} ms < 3800)" test "$waited" -lt 3800

# the daemon is not tied up by waiters: 80 blocked waiters, other ops go on
( exec 9<>"$A/sess_x"; flock -x 9; sleep 4 ) & holder=$!
sleep 0.5
wpids=()
for i in $(seq 80); do flock -x "$B/sess_x" -c true & wpids+=($!); done
sleep 0.5
start=$(date +%s%N)
ls "$B" >/dev/null && echo x >"$B/other" && cat "$B/other" >/dev/null
took=$((($(date +%s%N) - start) / 1000000))
ok "80 blocked waiters on node2 do not block its other requests (${took} ms)" test "$took" -lt 1000
wait $holder "${wpids[@]}"
check_eq "all 80 waiters got the lock in turn" 0 "$?"

# interrupting a blocked waiter with a signal
( exec 9<>"$A/sess_x"; flock -x 9; sleep 4 ) & holder=$!
sleep 0.5
start=$(date +%s%N)
timeout -s INT 1 flock -x "$B/sess_x" -c 'echo acquired'; rc=$?
took=$((($(date +%s%N) - start) / 1000000))
ok "a signal ends a blocked flock promptly (${took} ms, exit $rc)" test "$took" -lt 2000 -a "$rc" -ne 0
wait $holder
ok "the interrupted waiter holds nothing afterwards" flock -n -x "$A/sess_x" -c true

# close releases: fcntl lock dropped when the holder closes / exits
$PY - "$A/g" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
time.sleep(1)
PY
sleep 0.5
ok "fcntl lock held on node1 refuses node2" bash -c "! $PY -c 'import fcntl,sys; fcntl.lockf(open(sys.argv[1],\"r+\"), fcntl.LOCK_EX|fcntl.LOCK_NB)' '$B/g' 2>/dev/null"
wait_bg
ok "after the holder exits node2 gets it at once" $PY -c 'import fcntl,sys; fcntl.lockf(open(sys.argv[1],"r+"), fcntl.LOCK_EX|fcntl.LOCK_NB)' "$B/g"

# a crashed node loses its locks after its lease and is fenced
addr_before=$(ceph -c "$CEPH_CONF" osd blocklist ls 2>/dev/null | wc -l)
( exec 9<>"$A/sess_x"; flock -x 9; sleep 60 ) & holder=$!
sleep 0.5
ok "node1 holds the lock" bash -c "! flock -n -x '$B/sess_x' -c true"
crash_fs "$A"
kill $holder 2>/dev/null
start=$SECONDS
flock -w 40 -x "$B/sess_x" -c true; rc=$?
took=$((SECONDS - start))
check_eq "node2 acquires the crashed node's lock" 0 "$rc"
ok "within the lease bound (${took} s <= 25 s)" test "$took" -le 25
ok "the crashed node's client is blocklisted" test "$(ceph -c "$CEPH_CONF" osd blocklist ls 2>/dev/null | wc -l)" -gt "$addr_before"
contains "node2 logged the fencing" 'missed its lease: blocklisted' "$(cat "$T_DIR"/daemon.node2.log)"

umount_fs "$B"
check_daemon_logs 'missed its lease'
done_testing
