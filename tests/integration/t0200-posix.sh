#!/usr/bin/env bash
# t0200: the POSIX semantics suite, first on tmpfs (the reference: the suite
# itself must be right), then through a datarootfs mount.
. "$(dirname "$0")/lib.sh"
SUITE=$DRFS_BUILD/tests/posix_suite

REF=$T_DIR/tmpfs
mkdir -p "$REF"
mount -t tmpfs -o mode=0755 none "$REF"
ok "posix_suite passes on tmpfs (reference)" "$SUITE" "$REF"
umount "$REF"

mkfs_fs
M=$T_DIR/node1
mount_fs "$M" allow_other || exit 1
T_CHECKS=$((T_CHECKS + 1))
if "$SUITE" "$M" >"$T_DIR/suite.out" 2>&1; then
	echo "ok $T_CHECKS - posix_suite passes on datarootfs ($(tail -1 "$T_DIR/suite.out" | sed 's/^# //'))"
else
	echo "not ok $T_CHECKS - posix_suite passes on datarootfs"
	grep -E '^not ok|^#' "$T_DIR/suite.out" | sed 's/^/#   /'
	T_FAILS=$((T_FAILS + 1))
fi
umount_fs "$M"
check_daemon_logs
done_testing
