#!/usr/bin/env bash
# t0950: filedir, Moodle's content-addressed pool: SHA-1 checked at rename,
# immutable afterwards, trash and recovery, deletes seen by every node.
. "$(dirname "$0")/lib.sh"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1

store() { # store NODE FILE: Moodle's add_file_to_pool (tmp, re-read, rename)
	local h d
	h=$(sha1sum <"$2" | cut -c1-40)
	d=filedir/${h:0:2}/${h:2:2}
	mkdir -p "$1/$d" 2>/dev/null
	rm -f "$1/$d/$h.tmp"
	cat "$2" >"$1/$d/$h.tmp" || return 1 # PHP copy(): O_CREAT|O_TRUNC
	[ "$(sha1sum <"$1/$d/$h.tmp" | cut -c1-40)" = "$h" ] || return 1
	mv "$1/$d/$h.tmp" "$1/$d/$h" 2>/dev/null || [ -e "$1/$d/$h" ] || return 1
	chmod 0666 "$1/$d/$h"
	echo "$d/$h"
}

head -c 3000000 /dev/urandom >"$T_DIR/content"
p=$(store "$A" "$T_DIR/content") & q=$(store "$B" "$T_DIR/content"); wait_bg
p=$(store "$A" "$T_DIR/content")
ok "both nodes stored the same content at once" cmp "$T_DIR/content" "$B/$p"
out=$(echo more 2>&1 >>"$A/$p")
contains "pool content is immutable: append refused (EPERM)" 'Operation not permitted' "$out"
out=$(truncate -s 0 "$B/$p" 2>&1)
contains "pool content is immutable: truncate refused" 'Operation not permitted' "$out"
ok "chmod after the rename works (Moodle does it)" chmod 0644 "$A/$p"
ok "the content is unchanged" cmp "$T_DIR/content" "$A/$p"
for i in 1 2 3; do cat "$B/$p" >/dev/null; done
ok "warm reads (page cache kept across opens) return the content" cmp "$T_DIR/content" "$B/$p"

# a tmp file whose content does not match the name is refused
h=$(sha1sum <"$T_DIR/content" | cut -c1-40)
bad=${h:0:39}$(printf %x $(( (0x${h:39:1} + 1) % 16 )))
d=filedir/${bad:0:2}/${bad:2:2}
mkdir -p "$A/$d"
cp "$T_DIR/content" "$A/$d/$bad.tmp"
out=$(mv "$A/$d/$bad.tmp" "$A/$d/$bad" 2>&1)
contains "rename to a name that is not the content's SHA-1 is refused (EPERM)" 'Operation not permitted' "$out"
ok "the tmp file stays in place" test -f "$A/$d/$bad.tmp"
ok "the final name does not exist" test ! -e "$A/$d/$bad"
contains "the mismatch is logged with both hashes" "SHA-1 $h, not its new name $bad" "$(cat "$T_DIR"/daemon.node1.log)"
ok "a file named like a hash outside filedir/ab/cd is not checked" bash -c "cp '$T_DIR/content' '$A/$bad' && echo x >>'$A/$bad'"

# delete to trash, recover, delete for good: seen by the other node
mkdir -p "$A/trashdir/${h:0:2}/${h:2:2}"
mv "$A/$p" "$A/trashdir/${h:0:2}/${h:2:2}/$h"
ok "moved to trashdir: gone from filedir on node2" test ! -e "$B/$p"
ok "trash copy is intact (Moodle re-checks its SHA-1)" bash -c "[ \"\$(sha1sum <'$B/trashdir/${h:0:2}/${h:2:2}/$h' | cut -c1-40)\" = '$h' ]"
mv "$B/trashdir/${h:0:2}/${h:2:2}/$h" "$B/$p"
ok "recovered from trash on node2: readable on node1" cmp "$T_DIR/content" "$A/$p"
rm "$A/$p"
ok "a delete on node1 is seen by node2's next stat" test ! -e "$B/$p"
umount_fs "$A"
umount_fs "$B"

# policy "log": a mismatch is allowed and logged
mount_fs "$A" filedir_verify=log || exit 1
cp "$T_DIR/content" "$A/$d/$bad.tmp2"
ok "filedir_verify=log: the rename is allowed" mv "$A/$d/$bad.tmp2" "$A/$d/$bad"
umount_fs "$A"
check_daemon_logs 'filedir: content of'
done_testing
