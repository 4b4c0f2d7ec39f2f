#!/usr/bin/env bash
# t0960: the filedir read cache (cache_path=, cache_size=): filled in the
# background by the first open, served locally afterwards, kept across a
# daemon restart, a corrupted cached file detected and never served, LRU
# eviction within cache_size, purge on every node, deletes still seen.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2 CA=$T_DIR/cache1 CB=$T_DIR/cache2
mount_fs "$A" "cache_path=$CA,cache_size=16M" || exit 1
mount_fs "$B" "cache_path=$CB,cache_size=16M" || exit 1

store() { # store NODE FILE: Moodle's add_file_to_pool
	local h d
	h=$(sha1sum <"$2" | cut -c1-40)
	d=filedir/${h:0:2}/${h:2:2}
	mkdir -p "$1/$d" && cat "$2" >"$1/$d/$h.tmp" && mv "$1/$d/$h.tmp" "$1/$d/$h" &&
		echo "$d/$h"
}
cached() { # cached DIR SHA: the cache holds the content
	[ -f "$1/${2:0:2}/$2" ]
}
wait_cached() {
	local i
	for i in $(seq 100); do cached "$1" "$2" && return 0; sleep 0.1; done
	return 1
}
stat_of() { # stat_of NODE EVENT
	sed -nE "s/^datarootfs_read_cache_events_total\{[^}]*event=\"$2\"\} //p" \
		"$1/.datarootfs-stats.prom"
}

mkdir -p "$T_DIR/node3"
for i in 1 2 3 4; do head -c 3000000 /dev/urandom >"$T_DIR/f$i"; done
p1=$(store "$A" "$T_DIR/f1")
h1=${p1##*/}
ok "the cache directory is private (0700)" \
	test "$(stat -c %a "$CB")" = 700
cat "$B/$p1" >/dev/null # first open: a miss, queued for filling
ok "node2's first read fills its cache in the background" wait_cached "$CB" "$h1"
ok "the cached copy is the content" cmp "$T_DIR/f1" "$CB/${h1:0:2}/$h1"
ok "node1 (which did not read it) has not cached it" bash -c "! [ -e '$CA/${h1:0:2}/$h1' ]"
echo 3 >/proc/sys/vm/drop_caches
ok "a later open on node2 reads it back" cmp "$T_DIR/f1" "$B/$p1"
check_eq "and is a read cache hit" 1 "$(stat_of "$B" hit)"
contains "the text statistics show the hit rate" 'read cache +1 files, .* hit rate 50.0%' \
	"$(cat "$B/.datarootfs-stats.txt")"

# survives a restart; corruption is found on the first use after it
umount_fs "$B"
printf 'X' | dd of="$CB/${h1:0:2}/$h1" bs=1 seek=1000 conv=notrunc status=none
mount_fs "$B" "cache_path=$CB,cache_size=16M" || exit 1
ok "after a restart with a corrupted cached file, the read is right" \
	cmp "$T_DIR/f1" "$B/$p1"
check_eq "the corruption was counted" 1 "$(stat_of "$B" corrupt)"
contains "and logged with the file's name" "read cache: $CB/${h1:0:2}/$h1 does not match its SHA-1" \
	"$(cat "$T_DIR/daemon.node2.log")"
ok "the bad copy is gone or refilled with the right content" \
	bash -c "! [ -e '$CB/${h1:0:2}/$h1' ] || cmp '$T_DIR/f1' '$CB/${h1:0:2}/$h1'"
ok "it is refilled" wait_cached "$CB" "$h1"
umount_fs "$B"
mount_fs "$B" "cache_path=$CB,cache_size=16M" || exit 1
echo 3 >/proc/sys/vm/drop_caches
cat "$B/$p1" >/dev/null
check_eq "a clean restart keeps the cache: the first open is a hit" 1 "$(stat_of "$B" hit)"
ok "a second daemon cannot share the cache directory" \
	bash -c "! '$DATAROOTFS' -f -o 'conf=$CEPH_CONF,cache_path=$CB' '$T_FS' '$T_DIR/node3' 2>'$T_DIR/n3.err'"
contains "it says why" 'in use by another datarootfs daemon' "$(cat "$T_DIR/n3.err")"

# LRU within cache_size (16M: files above 4M are not cached, so 3M
# files: five fit)
for i in 2 3 4; do p=$(store "$A" "$T_DIR/f$i"); cat "$B/$p" >/dev/null; wait_cached "$CB" "${p##*/}"; done
for i in 5 6 7; do head -c 3000000 /dev/urandom >"$T_DIR/f$i"; p=$(store "$A" "$T_DIR/f$i"); cat "$B/$p" >/dev/null; wait_cached "$CB" "${p##*/}"; done
used=$(du -sb --exclude=.epoch --exclude=.lock "$CB" | cut -f1)
ok "the cache stays within cache_size ($used bytes)" test "$used" -le $((16 * 1048576 + 65536))
ok "the least recently used file was evicted first" bash -c "! [ -e '$CB/${h1:0:2}/$h1' ]"
ok "evictions are counted" test "$(stat_of "$B" eviction)" -ge 1

# a delete on node1 is seen by node2 even though node2 caches the content
h7=$(sha1sum <"$T_DIR/f7" | cut -c1-40)
p7=filedir/${h7:0:2}/${h7:2:2}/$h7
rm "$A/$p7"
ok "a deleted pool file is gone on the caching node" test ! -e "$B/$p7"
ok "and cannot be opened there" bash -c "! cat '$B/$p7' 2>/dev/null"

# purge --read-cache empties every node's cache, and a node that was down
# starts empty
umount_fs "$A"
mount_fs "$A" "cache_path=$CA,cache_size=16M" || exit 1
cat "$A/$p1" >/dev/null; wait_cached "$CA" "$h1"
umount_fs "$A"
out=$(ctl purge --read-cache 2>&1)
contains "purge --read-cache reports the nodes it reached" 'read cache purged: epoch 2, 1 node' "$out"
ok "node2's cache is empty" bash -c "[ -z \"\$(find '$CB' -type f ! -name '.*')\" ]"
ok "node2 still reads pool files" cmp "$T_DIR/f2" "$B/filedir/$(sha1sum <"$T_DIR/f2" | cut -c1-2)/$(sha1sum <"$T_DIR/f2" | cut -c3-4)/$(sha1sum <"$T_DIR/f2" | cut -c1-40)"
mount_fs "$A" "cache_path=$CA,cache_size=16M" || exit 1
ok "node1, down during the purge, starts with an empty cache" \
	bash -c "! [ -e '$CA/${h1:0:2}/$h1' ]"
out=$(ctl purge --read-cache --dry-run 2>&1)
contains "--dry-run says what it would do" 'would purge the filedir read cache of every node \(epoch 2 -> 3\)' "$out"

# a node mounted without the localcache area still hears read cache purges
# (the superblock watch announces both)
umount_fs "$B"
mount_fs "$B" "cache_path=$CB,cache_size=16M,localcache_name=none" || exit 1
cat "$B/$p1" >/dev/null; wait_cached "$CB" "$h1"
cat "$B/$p1" >/dev/null # a hit, for the status checks below
out=$(ctl purge --read-cache 2>&1)
contains "purge --read-cache reaches a node with localcache_name=none" 'read cache purged: epoch 3, 2 node' "$out"
ok "and empties its cache" bash -c "! [ -e '$CB/${h1:0:2}/$h1' ]"

# bad options: one line, no mount
out=$("$DATAROOTFS" -f -o "conf=$CEPH_CONF,cache_size=12Q" "$T_FS" "$T_DIR/node3" 2>&1)
contains "cache_size=12Q is refused with one line" 'cache_size=12Q: must be a size' "$out"
out=$("$DATAROOTFS" -f -o "conf=$CEPH_CONF,cache_path=relative" "$T_FS" "$T_DIR/node3" 2>&1)
contains "a relative cache_path is refused" 'cache_path=relative: must be an absolute path' "$out"

# every node's hit rate and per-area requests in datarootctl status
st=
for i in $(seq 40); do
	st=$(ctl status 2>&1)
	grep -qE 'read cache hits=[1-9]' <<<"$st" && break
	sleep 0.25
done
contains "status shows each node's read cache hit rate" 'read cache hits=[1-9][0-9]* misses=[0-9]+ \(hit rate [0-9.]+%\)' "$st"
contains "status shows requests by area" 'requests by area: other=[0-9]+ filedir=[1-9]' "$st"
contains "status --json has the per-area counters" '"ops_filedir":[1-9]' "$(ctl status --json)"
umount_fs "$A"
umount_fs "$B"

# area names chosen at mkfs time: filedir elsewhere
FS=${T_FS}b
ok "mkfs --area filedir=pool" ctl mkfs --area filedir=pool
out=$(ctl mkfs --force --area nosuch=x 2>&1)
contains "mkfs --area with an unknown kind is refused" "bad --area 'nosuch=x'" "$out"
mount_fs "$A" || exit 1
p2=$(h=$(sha1sum <"$T_DIR/f3" | cut -c1-40); d=pool/${h:0:2}/${h:2:2}; mkdir -p "$A/$d" && cp "$T_DIR/f3" "$A/$d/$h.tmp" && mv "$A/$d/$h.tmp" "$A/$d/$h" && echo "$d/$h")
out=$(echo x 2>&1 >>"$A/$p2")
contains "content renamed into the mkfs-named pool area is sealed" 'Operation not permitted' "$out"
contains "its requests are counted as filedir" 'area filedir +pool +requests=[1-9]' "$(cat "$A/.datarootfs-stats.txt")"
umount_fs "$A"
unset FS
check_daemon_logs 'read cache|in use by another'
done_testing
