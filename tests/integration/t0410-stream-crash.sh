#!/usr/bin/env bash
# t0410: kill -9 of the daemon during streaming writes (asynchronous
# write-back, several stripes in flight) loses nothing that was fsynced or
# closed.  A writer streams 1 MiB blocks of known content and notes each
# fsync that returned; the daemon dies at a random moment after a few of
# them.  On a new mount every closed file is whole and every streamed file
# holds at least the bytes of its last fsync, intact; fsck finds nothing
# but the dead node's session.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
ITER=${STREAM_CRASH_ITER:-3}

# writer PATH SEED MIB SYNC_EVERY STATUS [PAUSE]: block i = Random(SEED *
# 100000 + i).randbytes(1 MiB); after every SYNC_EVERY blocks fsync and
# append "synced <bytes>" to STATUS (local disk); "closed <bytes>" after
# close.  With PAUSE=K it stops for 5 s after the K-th fsync ("paused"),
# so that a kill finds the tail after that fsync still in the daemon's
# buffer (6 MiB is not a stripe boundary: 2 MiB of stripe 1 are buffered).
writer() {
	"$PY" - "$@" <<'PYEOF'
import os, random, sys
path, seed, mib, every, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
pause = int(sys.argv[6]) if len(sys.argv) > 6 else 0
import time
st = open(status, "a", buffering=1)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(mib):
    os.write(fd, random.Random(seed * 100000 + i).randbytes(1 << 20))
    if (i + 1) % every == 0:
        os.fsync(fd)
        st.write("synced %d\n" % ((i + 1) << 20))
        if (i + 1) // every == pause:
            st.write("paused\n")
            time.sleep(5)
os.close(fd)
st.write("closed %d\n" % (mib << 20))
PYEOF
}

# expect_sha SEED BYTES: SHA-1 of the first BYTES of what writer wrote
expect_sha() {
	"$PY" - "$@" <<'PYEOF'
import hashlib, random, sys
seed, n = int(sys.argv[1]), int(sys.argv[2])
h = hashlib.sha1()
for i in range(n >> 20):
    h.update(random.Random(seed * 100000 + i).randbytes(1 << 20))
print(h.hexdigest())
PYEOF
}

mkfs_fs
A=$T_DIR/a
mount_fs "$A" || exit 1
mkdir -p "$A/temp"
for it in $(seq "$ITER"); do
	: >"$T_DIR/st.closed.$it"
	ok "iteration $it: a 12 MiB file streamed and closed" \
		writer "$A/temp/closed$it" $((it * 10 + 1)) 12 4 "$T_DIR/st.closed.$it"
	: >"$T_DIR/st.big.$it"
	# even iterations: killed right after an fsync, with its tail
	# buffered; odd ones: anywhere mid-stream, with stripes in flight
	pause=0 want=$((2 + it)) what=synced
	[ $((it % 2)) = 0 ] && pause=$((1 + it)) what=paused want=1
	writer "$A/temp/big$it" $((it * 10 + 2)) 400 6 "$T_DIR/st.big.$it" \
		$pause >"$T_DIR/writer.$it.log" 2>&1 &
	wpid=$!
	deadline=$((SECONDS + 60))
	while [ "$(grep -c $what "$T_DIR/st.big.$it")" -lt $want ] &&
		kill -0 $wpid 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.05
	done
	if [ $pause = 0 ]; then
		sleep "0.$((RANDOM % 10))"
	else
		sleep 0.3 # the daemon idle, the tail in its buffer
	fi
	synced=$(grep synced "$T_DIR/st.big.$it" | tail -n 1 | awk '{print $2}')
	crash_fs "$A"
	wait $wpid 2>/dev/null
	check_eq "iteration $it: the writer had not finished (the kill came mid-stream)" \
		"" "$(grep closed "$T_DIR/st.big.$it")"
	# what the writer saw fsynced before the kill (it may have seen one
	# more after our look: take the last it noted)
	synced=$(grep synced "$T_DIR/st.big.$it" | tail -n 1 | awk '{print $2}')
	say "iteration $it: killed after $synced bytes were fsynced"
	mount_fs "$A" || exit 1
	for j in $(seq "$it"); do
		check_eq "iteration $it: closed file $j is whole" \
			"$(expect_sha $((j * 10 + 1)) $((12 << 20)))" \
			"$(sha1sum <"$A/temp/closed$j" | cut -c1-40)"
	done
	size=$(stat -c %s "$A/temp/big$it")
	ok "iteration $it: streamed file holds the fsynced bytes ($size >= $synced)" \
		test "$size" -ge "$synced"
	check_eq "iteration $it: the fsynced bytes are intact" \
		"$(expect_sha $((it * 10 + 2)) "$synced")" \
		"$(head -c "$synced" "$A/temp/big$it" | sha1sum | cut -c1-40)"
	# beyond the last fsync: whatever made it, but readable (no EIO)
	ok "iteration $it: the rest of the streamed file reads without error" \
		sh -c 'cat "$1" >/dev/null' - "$A/temp/big$it"
done
umount_fs "$A"
# Data and records verified; the killed daemons' sessions (and the files
# they left open) are all fsck may still see within their lease.
out=$(ctl fsck 2>&1)
rc=$?
if [ $rc = 4 ] && ! grep -vqE 'node session .* expired|lock held by dead node|^fsck:|unlinked|orphan' <<<"$out"; then
	rc=0
fi
check_eq "fsck (data verified) finds no damage" 0 "$rc"
[ $rc != 0 ] && sed 's/^/#   /' <<<"$out" | head -n 10
check_daemon_logs
done_testing
