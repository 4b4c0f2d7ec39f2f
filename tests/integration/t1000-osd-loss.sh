#!/usr/bin/env bash
# t1000: OSD loss under load, on a private 3-OSD cluster (pool size 3,
# min_size 2).  Two nodes (two daemons) run the Moodle-like workload of
# workload.py (filedir tmp+rename, MUC rename-over, appends, small files,
# flock'ed counter, re-reads on the same and on the other node).
#   1. one OSD is killed (SIGKILL: its memstore data is gone): the
#      workload goes on, no operation fails;
#   2. a second OSD is killed: fewer than min_size copies, so I/O blocks:
#      no operation completes, none fails, none returns wrong data;
#   3. one OSD is started again (empty; Ceph recovers it from the last
#      copy): the blocked operations complete and the workload goes on;
#      then the other one, until every PG is active+clean again;
#   4. every file the workload was told is written (closed, renamed) is
#      read back through both nodes and checked against its SHA-1; the
#      lock counter equals the number of increments.
# Prints operations attempted, errors, bytes verified, stall and recovery
# times.  DRFS_LONG=1: longer phases and every OSD killed in turn.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faultlib.sh"

LONG=${DRFS_LONG:-0}
RUN=6 # seconds of workload per phase
[ "$LONG" = 1 ] && RUN=30

private_cluster || exit 1
mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
THREADS=filedir=2,muc,append,small,lock,reader,xreader,big
wl_start a "$A" --threads "$THREADS" --big-mib 8 --pause 0.02 --big-pause 0.2
wl_start b "$B" --threads "$THREADS" --big-mib 8 --pause 0.02 --big-pause 0.2

t0=$SECONDS
took=$(wl_wait_ops 100 60)
ok "the workload runs on a healthy cluster (100 operations in ${took} s)" \
	test "$took" != timeout
sleep "$RUN"

# one_round FIRST SECOND [last]: kill osd.FIRST, then osd.SECOND, start
# SECOND again, then FIRST; unless last, wait for active+clean.
one_round() {
	local first=$1 second=$2 e0 ok0 ok1 infl t_stall t_resume took start
	e0=$(wl_sum errors)
	ok "kill osd.$first (SIGKILL)" cl kill "osd.$first"
	took=$(wl_wait_ops 100 60)
	ok "one OSD down: the workload goes on (100 operations in ${took} s)" \
		test "$took" != timeout
	sleep "$RUN"
	check_eq "one OSD down: no operation failed" "$e0" "$(wl_sum errors)"

	ok "kill osd.$second (SIGKILL): below min_size" cl kill "osd.$second"
	t_stall=$SECONDS
	sleep 3
	ok0=$(wl_sum ok)
	sleep "$RUN"
	ok1=$(wl_sum ok)
	infl="$(inflight_ops "$(daemon_pid "$A")")+$(inflight_ops "$(daemon_pid "$B")")"
	check_eq "two OSDs down: I/O blocks (operations completed in $RUN s)" 0 $((ok1 - ok0))
	check_eq "two OSDs down: no operation failed" "$e0" "$(wl_sum errors)"
	say "two OSDs down: $(wl_sum inflight) workload operations waiting, RADOS ops in flight (node1+node2): $infl"

	ok "start osd.$second again (its data is gone: recovered from osd.$((3 - first - second)))" \
		cl start "osd.$second"
	took=$(wl_wait_ops 50 90)
	t_resume=$((SECONDS - t_stall))
	ok "the blocked operations complete and the workload goes on (${took} s after the restart)" \
		test "$took" != timeout
	say "I/O blocked for about $t_resume s in all (kill to resume)"
	STALLS+=("$t_resume")
	sleep "$RUN"
	check_eq "after the restart: no operation failed" "$e0" "$(wl_sum errors)"
	ok "start osd.$first again" cl start "osd.$first"
	sleep "$RUN"
	check_eq "no operation failed" "$e0" "$(wl_sum errors)"
	# A SIGKILLed memstore OSD is a lost disk: the next round may kill
	# only once every PG has its three copies again.
	if [ "${3:-}" != last ]; then
		start=$SECONDS
		ok "all PGs active+clean under load before the next round" cl wait --timeout 300
		say "recovery to active+clean under load: $((SECONDS - start)) s"
	fi
}

STALLS=()
if [ "$LONG" = 1 ]; then
	one_round 2 1
	one_round 0 2
	one_round 1 0 last
else
	one_round 2 1 last
fi
ok "the workloads stop by themselves" wl_stop 120
start=$SECONDS
ok "all PGs active+clean again" cl wait --timeout 120
say "recovery to active+clean after the workload stopped: $((SECONDS - start)) s"

check_eq "no operation failed (all nodes)" 0 "$(wl_sum errors)"
[ "$(wl_sum errors)" = 0 ] || wl_errors | sed 's/^/#   /'
check_eq "no read returned wrong data during the run" 0 "$(wl_sum bad)"
[ "$(wl_sum bad)" = 0 ] || wl_errors | sed 's/^/#   /'
say "workload: $(wl_sum attempted) operations attempted, $(wl_sum ok) completed, $(wl_sum errors) errors, $(($(wl_sum bytes_written) / 1000000)) MB written, $(($(wl_sum bytes_verified) / 1000000)) MB re-read and verified during the run, longest operation $(cat "$WL_OUT"/*.progress | jq -s 'map(.max_latency) | max') s, $((SECONDS - t0)) s"

for m in "$A" "$B"; do
	wl_verify "$m"
	check_eq "$(basename "$m"): every acknowledged file verifies" 0 "$(vget problems)"
	vproblems
	say "$(basename "$m"): $(vget verified_files) files, $(vget verified_bytes) bytes verified; lock counter $(vget lock_counter) for $(vget lock_increments) increments"
done
say "stalls (s): ${STALLS[*]}"

fsck_out=$(ctl fsck --no-data 2>&1)
check_eq "fsck: clean" 0 $?
say "$(tail -n 1 <<<"$fsck_out")"
grep -v '^fsck:' <<<"$fsck_out" | head -n 10 | sed 's/^/#   /'
for m in "$A" "$B"; do
	pid=$(daemon_pid "$m")
	fusermount3 -u "$m"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	ok "$(basename "$m"): the daemon exits by itself after the unmount" \
		bash -c "! kill -0 $pid 2>/dev/null"
	umount_fs "$m"
done
# Expected: lock watches lost with an OSD, a stall of more than half the
# lease, and (DRFS_LONG) a stall longer than the lease: see t1010.
check_daemon_logs "metadata cache (off: watch on inv\.[0-7] lost|on again)|lock watch on l\.[0-9a-f]+ (lost|re-armed)|the cluster answers again after [0-9.]+ s without a lease renewal .*no node broke it|info: a node holding a lock missed its lease, but"
done_testing
