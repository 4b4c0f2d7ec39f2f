#!/usr/bin/env bash
# t0300: two daemons on one filesystem (two web nodes): coherence, races
# and Moodle's own sequences (doc: ../shared/moodle-access-patterns.md).
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

# --- coherence: what one node did is seen by the next op on the other ---
touch "$A/climaintenance.html"
ok "climaintenance.html made on node1 is seen by node2's next stat" test -e "$B/climaintenance.html"
rm "$A/climaintenance.html"
ok "its removal is seen by node2's next stat" test ! -e "$B/climaintenance.html"
mkdir -p "$A/cache"
echo v1 >"$A/cache/k"
cat "$B/cache/k" >/dev/null
echo version-two >"$A/cache/k"
check_eq "an overwrite in cache/ is seen by node2's next read" version-two "$(cat "$B/cache/k")"
rm "$B/cache/k"
ok "a delete on node2 is seen by node1's next lookup" test ! -e "$A/cache/k"
echo x >"$A/cache/k2"
ok "stat size on node2 right after node1 closed" test "$(stat -c %s "$B/cache/k2")" = 2

# --- O_EXCL create is atomic across nodes ---
mkdir "$A/excl"
for i in $(seq 40); do
	(set -C; echo A >"$A/excl/f$i") 2>/dev/null &
	(set -C; echo B >"$B/excl/f$i") 2>/dev/null &
done
wait_bg
wins=0
for i in $(seq 40); do
	c=$(cat "$A/excl/f$i")
	[ "$c" = A ] || [ "$c" = B ] && wins=$((wins + 1))
done
check_eq "O_EXCL races: every file has exactly one winner's content" 40 "$wins"
check_eq "O_EXCL races: 40 entries" 40 "$(ls "$B/excl" | wc -l)"

# exactly one of two concurrent O_EXCL creates succeeds
succ=0
for i in $(seq 30); do
	r=$( { (set -C; echo A >"$A/excl/g$i") 2>/dev/null && echo 1 || echo 0; } &
	     { (set -C; echo B >"$B/excl/g$i") 2>/dev/null && echo 1 || echo 0; } &
	     wait )
	[ "$(echo "$r" | grep -c 1)" = 1 ] && succ=$((succ + 1))
done
check_eq "O_EXCL: exactly one of two concurrent creators wins, 30 of 30" 30 "$succ"

# plain mkdir races: exactly one wins; mkdir -p races all succeed
one=0
for i in $(seq 30); do
	r=$( { mkdir "$A/d$i" 2>/dev/null && echo 1 || echo 0; } &
	     { mkdir "$B/d$i" 2>/dev/null && echo 1 || echo 0; } & wait )
	[ "$(echo "$r" | grep -c 1)" = 1 ] && one=$((one + 1))
done
check_eq "mkdir races: exactly one winner, 30 of 30" 30 "$one"
fails=0
for i in $(seq 20); do
	mkdir -p "$A/lock/a$i/b/c/d" 2>/dev/null || fails=$((fails + 1)) &
	mkdir -p "$B/lock/a$i/b/c/d" 2>/dev/null || fails=$((fails + 1)) &
done
wait_bg
ok "mkdir -p races: every tree exists" bash -c "for i in \$(seq 20); do test -d '$A'/lock/a\$i/b/c/d || exit 1; done"
sleep 1.1 # the mount root's own attributes may be 1 s old (design.md)
check_eq "root nlink counts subdirectories (excl, d1..d30, lock, cache)" 35 "$(stat -c %h "$B")"

# --- rename races: one winner, never two copies ---
mkdir "$A/ren"
good=0
for i in $(seq 20); do
	echo "data$i" >"$A/ren/src$i"
	mv "$A/ren/src$i" "$A/ren/dstA$i" 2>/dev/null &
	mv "$B/ren/src$i" "$B/ren/dstB$i" 2>/dev/null &
	wait_bg
	n=$(ls "$A/ren" | grep -c "^dst.$i\$")
	s=$(ls "$A/ren" | grep -c "^src$i\$")
	[ "$n" = 1 ] && [ "$s" = 0 ] && good=$((good + 1))
done
check_eq "rename races: exactly one destination, no source, 20 of 20" 20 "$good"

# cross-directory rename races of directories
mkdir -p "$A/x/p" "$A/y" "$A/z"
echo keep >"$A/x/p/file"
mv "$A/x/p" "$A/y/p" 2>/dev/null & mv "$B/x/p" "$B/z/p" 2>/dev/null & wait_bg
cnt=$(ls -d "$A"/y/p "$A"/z/p 2>/dev/null | wc -l)
check_eq "concurrent cross-parent directory moves: exactly one place" 1 "$cnt"
check_eq "the moved directory keeps its file" keep "$(cat "$A"/[yz]/p/file)"

# --- readdir during concurrent create/unlink: no entry lost or doubled ---
mkdir "$A/rd"
for i in $(seq 300); do echo >"$A/rd/stable$i"; done
( for j in $(seq 150); do echo >"$B/rd/churn$j"; rm -f "$B/rd/churn$((j - 3))"; done ) &
churn=$!
bad=0
for k in $(seq 10); do
	ls -f "$A/rd" >"$T_DIR/list"
	s=$(grep -c '^stable' "$T_DIR/list")
	d=$(sort "$T_DIR/list" | uniq -d | wc -l)
	[ "$s" = 300 ] && [ "$d" = 0 ] || bad=$((bad + 1))
done
wait $churn
check_eq "readdir while the other node creates and deletes: 300 stable names, no duplicates" 0 "$bad"

# --- Moodle: filedir add from string (fixed tmp name per hash) on both nodes ---
# (one node's ftruncate of the shared tmp file used to land between the
# other's hash and seal: a sealed pool file of the right size, all zeros)
store() { # store NODE: Moodle's add_string_to_pool sequence
	mkdir -p "$1/$d" 2>/dev/null
	exec {fd}<>"$1/$d/$hash.tmp"
	flock -x $fd
	truncate -s 0 /proc/self/fd/$fd 2>/dev/null # ftruncate($fp, 0)
	printf %s "$content" >&$fd
	exec {fd}>&-
	mv "$1/$d/$hash.tmp" "$1/$d/$hash" 2>/dev/null
	chmod 0666 "$1/$d/$hash" 2>/dev/null
}
bad=0
for r in $(seq 20); do
	content="course file $r $(date +%s%N)"
	hash=$(printf %s "$content" | sha1sum | cut -c1-40)
	d=filedir/${hash:0:2}/${hash:2:2}
	store "$A" & store "$B" & wait_bg
	for n in "$A" "$B"; do
		got=$(sha1sum <"$n/$d/$hash" 2>&1 | cut -c1-40)
		if [ "$got" != "$hash" ]; then
			bad=$((bad + 1))
			say "round $r, $n: $(od -c "$n/$d/$hash" 2>&1 | head -2 | tr '\n' ' ')"
		fi
	done
done
check_eq "filedir store from two nodes, 20 rounds: content right on both" 0 "$bad"
ok "filedir store: no tmp file left under the final name" test ! -e "$A/$d/$hash.tmp"

# --- Moodle: MUC temp + rename-over, readers never see partial data ---
mkdir -p "$A/cache/cachestore_file/default_application/core_string/abc-cache"
K=cache/cachestore_file/default_application/core_string/abc-cache/key.cache
writer() {
	local node=$1 i
	for i in $(seq 40); do
		local t="$node/${K%/*}/$RANDOM$RANDOM.temp"
		(set -C; head -c 6000 /dev/zero | tr '\0' "$2" >"$t") && mv "$t" "$node/$K"
	done
}
reader_bad=0
echo init >"$A/$K"
writer "$A" a & w1=$!
writer "$B" b & w2=$!
for i in $(seq 60); do
	c=$(cat "$B/$K" 2>/dev/null) || continue
	case "$c" in
	init) ;;
	*) if [ ${#c} != 6000 ] || [ -n "$(tr -d "${c:0:1}" <<<"$c")" ]; then reader_bad=$((reader_bad + 1)); fi ;;
	esac
done
wait $w1 $w2
check_eq "MUC rename-over: readers always see one whole version" 0 "$reader_bad"
check_eq "MUC rename-over: no temp files left" 0 "$(ls "$A/${K%/*}" | grep -c temp)"

# --- Moodle: purge (remove_dir) while the other node creates ---
mkdir -p "$A/cache/purge"
( for i in $(seq 60); do mkdir -p "$B/cache/purge/d$((i % 7))" 2>/dev/null; { echo x >"$B/cache/purge/d$((i % 7))/f$i"; } 2>/dev/null; done ) &
p=$!
for i in 1 2 3; do rm -rf "$A/cache/purge" 2>/dev/null; mkdir -p "$A/cache/purge" 2>/dev/null; done
wait $p
ok "after purge races the tree is consistent (find, rm -rf work)" bash -c "find '$A/cache/purge' >/dev/null && rm -rf '$A/cache/purge' && test ! -e '$B/cache/purge'"

# --- Moodle: language pack directory rename ---
mkdir -p "$A/lang/de"
for i in $(seq 20); do echo "s$i" >"$A/lang/de/f$i.php"; done
mv "$A/lang/de" "$A/lang/de_old"
mkdir -p "$B/lang/de"
for i in $(seq 20); do echo "new$i" >"$B/lang/de/f$i.php"; done
rm -rf "$A/lang/de_old"
check_eq "language pack swap: new files visible" new7 "$(cat "$A/lang/de/f7.php")"
ok "language pack swap: old dir gone on both nodes" bash -c "test ! -e '$A/lang/de_old' && test ! -e '$B/lang/de_old'"

# --- hard links, symlinks and xattrs across nodes ---
echo linked >"$A/h1"
ln "$B/h1" "$B/h2"
check_eq "hard link made on node2: nlink 2 on node1" 2 "$(stat -c %h "$A/h1")"
ln -s h1 "$A/sym"
check_eq "symlink made on node1 resolves on node2" linked "$(cat "$B/sym")"
setfattr -n user.moodle -v 42 "$A/h1"
check_eq "xattr set on node1 read on node2" 42 "$(getfattr --only-values -n user.moodle "$B/h2")"

# a streamed write's size reaches the other node at close, even where that
# node had the old size cached (the stream raises the size with aio and
# announces it at its sync)
mkdir -p "$A/temp"
head -c 100 /dev/zero >"$A/temp/streamed"
for i in 1 2 3; do stat -c %s "$B/temp/streamed" >/dev/null; done
dd if=/dev/urandom of="$A/temp/streamed" bs=1M count=24 seek=0 conv=notrunc status=none
check_eq "24 MiB streamed on node1: node2's next stat has the size" 25165824 "$(stat -c %s "$B/temp/streamed")"
dd if=/dev/urandom of="$A/temp/streamed" bs=1M count=8 oflag=append conv=notrunc status=none
check_eq "8 MiB more appended: node2 sees 32 MiB" 33554432 "$(stat -c %s "$B/temp/streamed")"
check_eq "node2 reads the streamed bytes node1 wrote" "$(md5sum <"$A/temp/streamed")" "$(md5sum <"$B/temp/streamed")"
rm "$A/temp/streamed"

# a file open on one node stays usable when another node deletes it
echo "still here" >"$A/openfile"
exec 7<>"$A/openfile"
rm "$B/openfile"
ok "deleted on node2: gone from the namespace" test ! -e "$A/openfile"
check_eq "deleted on node2: node1's open descriptor still reads it" "still here" "$(cat <&7)"
ok "deleted on node2: node1 can still write and close it" bash -c "echo more >&7 && exec 7>&-"
exec 7>&-

umount_fs "$A"
umount_fs "$B"
check_daemon_logs 'filedir: content of|write-back of inode .* Operation not permitted'
done_testing
