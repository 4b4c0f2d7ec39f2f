#!/usr/bin/env bash
# t0650: datarootctl purge of cache/ (while a node writes) and temp/.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

mkdir -p "$A/cache/cachestore_file/default_application/core_string/abc-cache" "$A/cache/js"
for i in $(seq 40); do echo "v$i" >"$A/cache/cachestore_file/default_application/core_string/abc-cache/k$i.cache"; done
for i in $(seq 10); do echo "js$i" >"$A/cache/js/f$i.js"; done
out=$(ctl purge --cache --dry-run)
contains "dry run counts the files" 'cache/: would remove 50 file' "$out"
check_eq "dry run removes nothing" 40 "$(ls "$B/cache/cachestore_file/default_application/core_string/abc-cache" | wc -l)"

( for i in $(seq 100); do echo "new$i" >"$B/cache/js/n$i.js" 2>/dev/null; done ) & writer=$!
out=$(ctl purge --cache)
wait $writer
contains "purge --cache removes files" 'cache/: removed [0-9]+ file' "$out"
check_eq "the MUC files are gone on node2" 0 "$(ls "$B/cache/cachestore_file/default_application/core_string/abc-cache" | wc -l)"
ok "directories are kept (nodes keep using them)" test -d "$B/cache/cachestore_file/default_application/core_string/abc-cache"
bad=0
for f in "$A"/cache/js/n*.js; do
	[ -e "$f" ] || continue
	case "$(cat "$f")" in new*) ;; *) bad=$((bad + 1)) ;; esac
done
check_eq "files written during the purge are whole or gone" 0 "$bad"

mkdir -p "$A/temp/backup/old" "$A/temp/backup/new"
echo old >"$A/temp/backup/old/b.mbz"
echo new >"$A/temp/backup/new/b.mbz"
touch -d '3 hours ago' "$A/temp/backup/old/b.mbz" "$A/temp/backup/old"
out=$(ctl purge --temp --older-than 2h)
contains "purge --temp reports" 'temp/: removed 1 file' "$out"
ok "files older than 2h are removed" test ! -e "$B/temp/backup/old/b.mbz"
ok "their emptied old directory too" test ! -e "$B/temp/backup/old"
ok "newer files stay" test -f "$B/temp/backup/new/b.mbz"

ctl purge --temp >/dev/null 2>&1; check_eq "--temp without --older-than: usage error" 2 "$?"
ctl purge --temp --older-than 3x >/dev/null 2>&1; check_eq "bad duration: exit 2" 2 "$?"
ctl purge >/dev/null 2>&1; check_eq "no area: exit 2" 2 "$?"
out=$(ctl purge --read-cache 2>&1); rc=$?
check_eq "--read-cache: exit 0" 0 "$rc"
contains "--read-cache: every mounted node answered" 'filedir read cache purged: epoch 2, 2 node\(s\) switched' "$out"
umount_fs "$A"
umount_fs "$B"
check_eq "fsck clean after the purges" 0 "$(ctl fsck >/dev/null 2>&1; echo $?)"
check_daemon_logs
done_testing
