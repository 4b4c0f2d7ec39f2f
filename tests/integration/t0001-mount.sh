#!/usr/bin/env bash
# t0001: mkfs, two mounts of one filesystem, and bad input at mount time.
. "$(dirname "$0")/lib.sh"

mkfs_fs
ok "mkfs refuses to overwrite an existing filesystem" \
	bash -c "! $DATAROOTCTL -c $CEPH_CONF -n $T_FS mkfs 2>$T_DIR/e && grep -q 'already exists' $T_DIR/e"
ok "status shows the filesystem" bash -c "$DATAROOTCTL -c $CEPH_CONF -n $T_FS status | grep -q 'format *2'"

N1=$T_DIR/node1 N2=$T_DIR/node2
ok "mount node1" mount_fs "$N1"
ok "mount node2" mount_fs "$N2"
ok "root is a directory" test -d "$N1"
mkdir "$N1/made-on-1"
ok "a directory made on node1 is listed on node2" bash -c "ls '$N2' | grep -qx made-on-1"
echo hello >"$N2/made-on-1/f"
check_eq "a file written on node2 reads on node1" hello "$(cat "$N1/made-on-1/f")"
ok "statfs works" bash -c "df -P '$N1' | tail -1 | grep -q ."
contains "status --json: valid, shows cluster health and both nodes" '^HEALTH_[A-Z]+ 2$' \
	"$(ctl status --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["health"], len(d["nodes"]))')"
# live statistics: hidden, read-only, Prometheus text and human text
contains "stats (Prometheus) count requests" 'datarootfs_requests_total\{fs="[^"]+",op="mkdir"\} [1-9]' "$(cat "$N1/.datarootfs-stats.prom")"
contains "stats (text) show RADOS ops" '^rados ops +read=[0-9]+ write=[1-9]' "$(cat "$N1/.datarootfs-stats.txt")"
ok "stats files are not listed" bash -c "! ls -a '$N1' | grep -q datarootfs-stats"
ok "stats files are read-only, even for root" bash -c "! echo x 2>/dev/null >'$N1/.datarootfs-stats.txt'"
ok "stats files cannot be removed" bash -c "! rm -f '$N1/.datarootfs-stats.txt' 2>/dev/null"

umount_fs "$N1"
umount_fs "$N2"
ok "both mounts are gone" bash -c "! grep -q '$T_DIR' /proc/mounts"

# --- bad input: one clear line, non-zero exit, no hang ---
M=$T_DIR/bad
mkdir -p "$M"
start=$SECONDS
out=$("$DATAROOTFS" -f -o mon_host=127.0.0.1:1,timeout=3,conf=$CEPH_CONF "$T_FS" "$M" 2>&1); rc=$?
check_eq "unreachable cluster: non-zero exit" 1 "$rc"
contains "unreachable cluster: message names the monitor address" '127\.0\.0\.1:1' "$out"
ok "unreachable cluster: gave up within the timeout bound" test $((SECONDS - start)) -le 15

# boot: retry= keeps trying an unreachable cluster, then gives up
start=$SECONDS
out=$("$DATAROOTFS" -f -o mon_host=127.0.0.1:1,timeout=1,retry=4,conf=$CEPH_CONF "$T_FS" "$M" 2>&1); rc=$?
check_eq "retry=4 with no cluster: exit 1" 1 "$rc"
contains "retry=4: each attempt logged" 'retrying in' "$out"
ok "retry=4: gave up after about 4 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -ge 3 -a $((SECONDS - start)) -le 9

out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF,pool=nosuchpool "$T_FS" "$M" 2>&1); rc=$?
check_eq "missing pool: exit 1" 1 "$rc"
check_eq "missing pool: one line" "datarootfs: pool 'nosuchpool' does not exist" "$out"

out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF nosuchfs "$M" 2>&1); rc=$?
check_eq "missing filesystem: exit 1" 1 "$rc"
contains "missing filesystem: says to run mkfs" 'datarootctl mkfs' "$out"
check_eq "missing filesystem: one line" 1 "$(echo "$out" | wc -l)"

start=$SECONDS
out=$("$DATAROOTFS" -f -o mon_host=127.0.0.1:1,conf=$CEPH_CONF,bogus_option=1 "$T_FS" "$M" 2>&1); rc=$?
ok "unknown option: refused before contacting the cluster" test $((SECONDS - start)) -le 2
check_eq "unknown option: exit 1" 1 "$rc"
contains "unknown option: named" bogus_option "$out"

for v in 1 70000 -1; do
	out=$("$DATAROOTFS" -f -o mon_host=127.0.0.1:1,conf=$CEPH_CONF,writeback_pieces=$v "$T_FS" "$M" 2>&1); rc=$?
	check_eq "writeback_pieces=$v: exit 1" 1 "$rc"
	contains "writeback_pieces=$v: says the range" 'writeback_pieces=.*must be from 2 to 65536' "$out"
done

out=$("$DATAROOTFS" -f -o conf=/nonexistent/ceph.conf "$T_FS" "$M" 2>&1); rc=$?
check_eq "missing ceph.conf: exit 1" 1 "$rc"
contains "missing ceph.conf: named" /nonexistent/ceph.conf "$out"

out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF "$T_FS" "$T_DIR/nonexistent" 2>&1); rc=$?
check_eq "missing mount point: exit 1" 1 "$rc"

out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF,id=nobody "$T_FS" "$M" 2>&1); rc=$?
check_eq "unknown cephx user: exit 1" 1 "$rc"
contains "unknown cephx user: says authentication/keyring" 'auth|keyring|ermission' "$out"

# a filesystem made by a newer datarootfs: refused, nothing changed
SB() { rados -c "$CEPH_CONF" -p datarootfs -N "$T_FS" "$@"; }
SB setomapval sb format 3
out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF "$T_FS" "$M" 2>&1); rc=$?
check_eq "newer format: mount exits 1" 1 "$rc"
check_eq "newer format: one clear line" "datarootfs: filesystem '$T_FS' has format version 3; this datarootfs supports up to 2 (upgrade it)" "$out"
out=$(ctl fsck 2>&1); rc=$?
check_eq "newer format: fsck refuses (operational error, 8)" 8 "$rc"
check_eq "newer format: the superblock is unchanged" 3 "$(SB getomapval sb format - 2>/dev/null)"

# format 1 (one checksum per block): raised to 2 by the first mount, but
# not while a node whose datarootfs reads only format 1 mounts it
SB setomapval sb format 1
old=00000000-0000-4000-8000-00000000beef
SB setomapval sessions "$old" "$(( $(date +%s) + 3600 ))000000000 127.0.0.1:0/7 datarootfs-0.3.0"
out=$("$DATAROOTFS" -f -o conf=$CEPH_CONF "$T_FS" "$M" 2>&1); rc=$?
check_eq "format 1, an old node mounted: mount exits 1" 1 "$rc"
contains "format 1, an old node mounted: says which and what to do" \
	"format version 1 and 1 node\(s\) mount it with a datarootfs that cannot read format 2, first $old at 127.0.0.1:0/7 \(datarootfs-0.3.0\): upgrade or unmount them" "$out"
check_eq "format 1, an old node mounted: the format is unchanged" 1 "$(SB getomapval sb format - 2>/dev/null)"
ok "fsck reads a format-1 filesystem" ctl fsck
SB rmomapkey sessions "$old"
ok "format 1, no old node: mounted" mount_fs "$M"
check_eq "format 1, no old node: raised to 2" 2 "$(SB getomapval sb format - 2>/dev/null)"
contains "format 1, no old node: logged" "format version 1 raised to 2" "$(cat "$T_DIR/daemon.$(basename "$M").log")"
contains "the node's session says it stores format 2" "datarootfs-[^ ]*/f2" "$(ctl status 2>&1)"
umount_fs "$M"

ok "no mount left behind" bash -c "! grep -q ' $M ' /proc/mounts"

# background mode: parent exits 0 only once mounted; failure reported
ok "background mount of a missing fs fails with exit 1" bash -c "! $DATAROOTFS -o conf=$CEPH_CONF nosuchfs $M 2>/dev/null"
# (every datarootctl command against no cluster: t0660-ctl-input.sh)
sed 's/^mon host = .*/mon host = [v2:127.0.0.1:1]/' "$CEPH_CONF" >"$T_DIR/dead.conf"
start=$SECONDS
ok "datarootctl with no cluster fails" bash -c "! timeout 20 $DATAROOTCTL -c $T_DIR/dead.conf -t 2 -n x status >/dev/null 2>&1"
ok "datarootctl with no cluster: within its -t bound" test $((SECONDS - start)) -le 6
done_testing
