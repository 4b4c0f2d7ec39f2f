#!/usr/bin/env bash
# t0210: randomized file operations against an in-memory model, alternating
# between two nodes (close-to-open), seeded and reproducible.
. "$(dirname "$0")/lib.sh"
FSX=$DRFS_BUILD/tests/fsx

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
for seed in 11 22 33; do
	ok "fsx seed $seed, 1500 ops across two nodes" \
		"$FSX" -q -S $seed -N 1500 "$A/fsx$seed" "$B/fsx$seed"
done
ok "fsx seed 44, small files (max 200 KiB), 3000 ops" \
	"$FSX" -q -S 44 -N 3000 -l 200k -o 64k "$A/small" "$B/small"
umount_fs "$A"
umount_fs "$B"
check_daemon_logs
done_testing
