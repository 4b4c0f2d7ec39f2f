#!/usr/bin/env bash
# t1020: SIGTERM to a daemon during heavy writes (the way systemd, or an
# administrator's kill, stops it).  node1 runs writers that keep the
# write-back buffers full: two writing 4-16 MiB files in 1 MiB writes
# (fsync every 8 MiB), two making many small files (2-3 writes each), the
# filedir tmp+rename pattern, MUC rename-over, appends, and one file held
# open and written every 50 ms.  Each writer records what it was told:
# closed or fsynced, and every write() that returned.  Then SIGTERM:
#   - the daemon answers the requests in progress, unmounts, flushes what
#     is still buffered and exits by itself, with status 0, its node
#     session removed (node2 stays up as the observer);
#   - after a remount, everything closed or fsynced is intact (SHA-1),
#     and so is every byte a write() accepted before the signal, in files
#     that were still open (the final flush);
#   - node2 sees the same; fsck is clean.
# T1020_ITER (default 3; DRFS_LONG=1: 10) rounds.  Uses the shared cluster
# (no cluster daemon is touched).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faultlib.sh"

ITER=${T1020_ITER:-3}
[ "${DRFS_LONG:-0}" = 1 ] && ITER=${T1020_ITER:-10}
mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$B" || exit 1
mount_fs "$A" || exit 1
THREADS=big=2,small=2,filedir,muc,append,holder

t0=$SECONDS
total_mb=0
for it in $(seq "$ITER"); do
	rm -f "$WL_STOP" "$WL_OUT/a.progress"
	wl_start a "$A" --threads "$THREADS" --big-mib 16
	# heavy writes under way: at least 16 MB written, then a random moment
	for _ in $(seq 300); do
		[ "$(wl_get a bytes_written)" -ge 16000000 ] 2>/dev/null && break
		sleep 0.1
	done
	ms=$((RANDOM % 2000))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	pid=$(daemon_pid "$A")
	before=$(wl_get a ok)
	kill -TERM "$pid"
	start=$SECONDS
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	ok "round $it: SIGTERM after $(($(wl_get a bytes_written) / 1000000)) MB, $before operations: the daemon exits by itself ($((SECONDS - start)) s)" \
		bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	rc=$?
	unset "T_PIDS[$A]"
	check_eq "round $it: exit status 0 (a clean stop)" 0 "$rc"
	ok "round $it: the mount is gone" bash -c "! grep -q ' $A fuse.datarootfs ' /proc/mounts"
	wl_stop 60
	total_mb=$((total_mb + $(wl_get a bytes_written) / 1000000))
	say "round $it: $(wl_get a ok) operations done, $(wl_get a errors) failed after the signal (expected: the daemon is gone)"
	check_eq "round $it: its node session is gone, node2's stays" 1 \
		"$(ctl status --json 2>/dev/null | jq '[.. | objects | select(.alive? == true)] | length')"
	ok "round $it: remount" mount_fs "$A"
	wl_verify "$A" --written
	check_eq "round $it: after the remount everything closed, fsynced or written is intact" \
		0 "$(vget problems)"
	vproblems
	say "round $it: $(vget verified_files) files, $(vget verified_bytes) bytes verified"
	wl_verify "$B" --written
	check_eq "round $it: node2 sees the same" 0 "$(vget problems)"
	vproblems
done
say "$ITER rounds, $total_mb MB written, $((SECONDS - t0)) s"
check_eq "no read returned wrong data while writing" 0 "$(wl_sum bad)"

fsck_out=$(ctl fsck --no-data 2>&1)
check_eq "fsck: clean" 0 $?
say "$(tail -n 1 <<<"$fsck_out")"
grep -v '^fsck:' <<<"$fsck_out" | head -n 10 | sed 's/^/#   /'
umount_fs "$A"
umount_fs "$B"
check_daemon_logs
done_testing
