#!/usr/bin/env bash
# t0210: randomized file operations against an in-memory model, alternating
# between two nodes (close-to-open), seeded and reproducible.  The streaming
# seeds (-s) add sequential write and read runs of up to 14 MiB in 1 MiB
# chunks, so whole stripes go through the asynchronous write-back and the
# read-ahead, on one node and alternating between two.  Seeds 77 and 88
# run through a mount that writes random writes out in background batches
# of 2 (writeback_pieces=2).
#
# FSX_SCALE=N multiplies every run's op count (default 1: ~9,000 ops, about
# a minute; FSX_SCALE=6 is ~55,000 ops).
. "$(dirname "$0")/lib.sh"
FSX=$DRFS_BUILD/tests/fsx
K=${FSX_SCALE:-1}

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
for seed in 11 22 33; do
	ok "fsx seed $seed, $((1500 * K)) ops across two nodes" \
		"$FSX" -q -S $seed -N $((1500 * K)) "$A/fsx$seed" "$B/fsx$seed"
done
ok "fsx seed 44, small files (max 200 KiB), $((3000 * K)) ops" \
	"$FSX" -q -S 44 -N $((3000 * K)) -l 200k -o 64k "$A/small" "$B/small"
ok "fsx seed 55, streaming (max 24 MiB), $((800 * K)) ops on one node" \
	"$FSX" -q -S 55 -N $((800 * K)) -s 5 -l 24m "$A/stream1"
ok "fsx seed 66, streaming (max 24 MiB), $((800 * K)) ops across two nodes" \
	"$FSX" -q -S 66 -N $((800 * K)) -s 5 -l 24m "$A/stream2" "$B/stream2"
# random writes batched in the background
# (writeback_pieces=2, a batch every other piece): the same model, one node and across two
C=$T_DIR/node3
mount_fs "$C" writeback_pieces=2 || exit 1
ok "fsx seed 77, background batches, $((1500 * K)) ops on one node" \
	"$FSX" -q -S 77 -N $((1500 * K)) "$C/fsx77"
ok "fsx seed 88, background batches, $((1500 * K)) ops across two nodes" \
	"$FSX" -q -S 88 -N $((1500 * K)) "$C/fsx88" "$B/fsx88"
nbg=$(awk '/^bytes/ {gsub(/[()]/, ""); print $NF}' "$C/.datarootfs-stats.txt")
say "background batches: $nbg"
ok "the batches went out in the background" test "${nbg:-0}" -ge 10
umount_fs "$C"
umount_fs "$A"
umount_fs "$B"
check_daemon_logs
done_testing
