#!/usr/bin/env bash
# t0900: the localcache area: node-local (tmpfs), append-only in compat and
# strict modes, cluster-wide purge.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
LA=$T_DIR/lc1 LB=$T_DIR/lc2
mkdir -p "$LA" "$LB"
mount -t tmpfs -o mode=0700 none "$LA"
mount -t tmpfs -o mode=0700 none "$LB"
T_EXTRA_MOUNTS+=("$LA" "$LB")
mount_fs "$A" "localcache_path=$LA" || exit 1
mount_fs "$B" "localcache_path=$LB,localcache=strict" || exit 1

ok "localcache is listed in the root" bash -c "ls '$A' | grep -qx localcache"
mkdir -p "$A/localcache/theme/123/boost/css"
echo "css v1" >"$A/localcache/theme/123/boost/css/all.css"
ok "a file made in node1's localcache is not on node2 (node-local)" test ! -e "$B/localcache/theme/123/boost/css/all.css"
ok "it lives on node1's tmpfs, not in Ceph" bash -c "find '$LA' -name all.css | grep -q ."
check_eq "the local directory is private (0700)" 700 "$(stat -c %a "$LA")"

# Moodle's own patterns (compat, node1): tmp + rename into a final name
# that may exist, copy + rename, empty *.error markers, in-place .ser
cd "$A/localcache" || exit 1
(set -C; echo '<?php return 1;' >bootstrap.php.tmp) && mv bootstrap.php.tmp bootstrap.php
(set -C; echo '<?php return 2;' >bootstrap.php.tmp2) && mv bootstrap.php.tmp2 bootstrap.php
check_eq "compat: tmp renamed over an existing final name works" '<?php return 2;' "$(cat bootstrap.php)"
: >"theme/123/x.error"
ok "compat: empty marker with O_TRUNC works" test -f theme/123/x.error
# (a file is sealed when its creating handle is released; the kernel sends
# that release after close() returns: give it the moment it needs, so the
# second write is the rewrite of a sealed file counted below)
mkdir -p htmlpurifier && echo a >htmlpurifier/def.ser && sleep 0.5 && echo b >htmlpurifier/def.ser
check_eq "compat: in-place rewrite of a sealed file works" b "$(cat htmlpurifier/def.ser)"
rm -rf theme/123
ok "compat: deleting an old revision directory works" test ! -e theme/123
cd / || exit 1
contains "compat: breaches are logged" 'append-only breach' "$(cat "$T_DIR"/daemon.node1.log)"
contains "compat: breaches are counted in the node's statistics" 'breaches rewrite=[1-9]' "$(cat "$A/.datarootfs-stats.txt")"
n=0
for _ in $(seq 20); do
	n=$(ctl status --json | /usr/bin/python3 -c 'import json,sys; print(sum(x["counters"].get("lc_breach_rewrite",0) for x in json.load(sys.stdin)["nodes"]))' 2>/dev/null)
	[ "${n:-0}" -ge 1 ] && break
	sleep 0.5
done
ok "datarootctl status shows the breaches of every node ($n)" test "${n:-0}" -ge 1

# strict (node2): adding works, breaches are refused with EPERM
mkdir -p "$B/localcache/mustache/9"
echo t >"$B/localcache/mustache/9/a.php"
check_eq "strict: creating a new file works" t "$(cat "$B/localcache/mustache/9/a.php")"
out=$(echo u 2>&1 >"$B/localcache/mustache/9/a.php")
contains "strict: rewriting a sealed file is refused (EPERM)" 'Operation not permitted' "$out"
check_eq "strict: the sealed file is unchanged" t "$(cat "$B/localcache/mustache/9/a.php")"
echo v >"$B/localcache/mustache/9/b.tmp"
out=$(mv "$B/localcache/mustache/9/b.tmp" "$B/localcache/mustache/9/a.php" 2>&1)
contains "strict: rename over an existing file is refused" 'Operation not permitted' "$out"
out=$(truncate -s 0 "$B/localcache/mustache/9/a.php" 2>&1)
contains "strict: truncating a sealed file is refused" 'Operation not permitted' "$out"
ok "strict: deleting a revision directory still works" rm -rf "$B/localcache/mustache/9"
ok "rename out of the area is EXDEV (mv copies)" bash -c "echo m >'$A/localcache/m' && mv '$A/localcache/m' '$A/m' && test -f '$A/m'"
ok "the area root cannot be removed" bash -c "! rmdir '$A/localcache' 2>/dev/null"

# cluster-wide purge: node1's tool empties node2 while node2 reads
for i in $(seq 50); do echo "f$i" >"$B/localcache/f$i"; done
echo keep >"$A/localcache/mine"
( for i in $(seq 200); do cat "$B/localcache/f$((i % 50 + 1))" >/dev/null 2>&1; done ) & reader=$!
out=$(ctl purge --localcache)
contains "purge reports both nodes switched" '2 node\(s\) switched' "$out"
check_eq "after purge returns node2 serves no pre-purge file" 0 "$(ls "$B/localcache" | wc -l)"
check_eq "and node1 neither" 0 "$(ls "$A/localcache" | wc -l)"
wait $reader
echo new >"$B/localcache/after"
check_eq "new files work after the purge" new "$(cat "$B/localcache/after")"
sleep 1
check_eq "old epoch directories are removed in the background" 1 "$(ls "$LB" | wc -l)"

# a node that was down during a purge starts empty
umount_fs "$A"
ctl purge --localcache >/dev/null
echo stale >"$LA/stale-file-outside"
mount_fs "$A" "localcache_path=$LA" || exit 1
check_eq "a node down during the purge mounts empty" 0 "$(ls "$A/localcache" | wc -l)"

umount_fs "$A"
umount_fs "$B"
# not tmpfs: a warning that says why
mkdir -p "$T_DIR/disk-lc"
mount_fs "$A" "localcache_path=$T_DIR/disk-lc" || exit 1
umount_fs "$A"
contains "a localcache_path that is not tmpfs is reported" 'is not on tmpfs' "$(cat "$T_DIR"/daemon.node1.log)"
check_daemon_logs 'append-only breach|not on tmpfs|localcache purged'
done_testing
