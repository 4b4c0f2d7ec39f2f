#!/usr/bin/env bash
# valgrind-check.sh - run one datarootfs daemon under valgrind (memcheck)
# through a short Moodle-like workload on two nodes and report its errors.
#
#   scripts/valgrind-check.sh            (builds, brings up its own cluster)
#
# The second node runs natively; the workload covers creates, writes,
# renames across directories, the filedir pool (SHA-1 check, dedup, read
# cache), flock and fcntl locks, xattrs, readdir, rm -rf and the stats
# files.  Exit 0 only when valgrind counted 0 errors.  Takes 1-3 minutes.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
scripts/install-deps.sh
BUILD=$TOP/build
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null

WORK=$(mktemp -d /tmp/drfs-vg.XXXXXX)
chmod 0755 "$WORK"
VGPID= NPID=
cleanup() {
	set +e
	for m in "$WORK/n1" "$WORK/n2"; do
		grep -q " $m fuse.datarootfs " /proc/mounts && fusermount3 -u "$m"
	done
	for p in $VGPID $NPID; do
		for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	scripts/dev-cluster.sh down "$WORK/cluster" >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

port=$((44500 + RANDOM % 400))
while ss -ltn 2>/dev/null | grep -qE ":($port|$((port + 1))|$((port + 2))) "; do
	port=$((port + 10))
done
scripts/dev-cluster.sh up "$WORK/cluster" --port "$port" >"$WORK/env"
# shellcheck disable=SC1091
. "$WORK/env"
CTL=("$BUILD/tools/datarootctl" -c "$CEPH_CONF" -n vg)
"${CTL[@]}" mkfs --root-mode 0777 >/dev/null
mkdir -p "$WORK/n1" "$WORK/n2"
valgrind --error-exitcode=0 --leak-check=full --errors-for-leak-kinds=definite --log-file="$WORK/vg.log" --num-callers=20 \
	"$BUILD/daemon/datarootfs" -f \
	-o "conf=$CEPH_CONF,cache_path=$WORK/rc1,localcache_path=$WORK/lc1" \
	vg "$WORK/n1" >"$WORK/n1.log" 2>&1 &
VGPID=$!
"$BUILD/daemon/datarootfs" -f -o "conf=$CEPH_CONF,localcache_path=$WORK/lc2" \
	vg "$WORK/n2" >"$WORK/n2.log" 2>&1 &
NPID=$!
for _ in $(seq 600); do
	grep -q " $WORK/n1 fuse.datarootfs " /proc/mounts &&
		grep -q " $WORK/n2 fuse.datarootfs " /proc/mounts && break
	sleep 0.1
done
A=$WORK/n1 B=$WORK/n2
echo "# workload"
mkdir -p "$A/cache/x" "$A/temp" "$A/localcache/theme/1"
for i in $(seq 50); do echo "v$i" >"$A/cache/x/k$i.temp" && mv "$A/cache/x/k$i.temp" "$A/cache/x/k$i.cache"; done
for i in $(seq 50); do cat "$B/cache/x/k$i.cache" >/dev/null; done
mkdir -p "$A/temp/d1/d2" && mv "$A/temp/d1" "$A/cache/moved"
setfattr -n user.k -v v "$A/cache/x/k1.cache"
getfattr -d "$B/cache/x/k1.cache" >/dev/null
echo css >"$A/localcache/theme/1/all.css"
for f in 1 2 3; do
	head -c $((f * 3000000)) /dev/urandom >"$WORK/src$f"
	h=$(sha1sum <"$WORK/src$f" | cut -c1-40)
	d=filedir/${h:0:2}/${h:2:2}
	mkdir -p "$A/$d" "$A/trashdir/${h:0:2}/${h:2:2}"
	cp "$WORK/src$f" "$A/$d/$h.tmp" && mv "$A/$d/$h.tmp" "$A/$d/$h"
	mv "$A/$d/$h" "$A/trashdir/${h:0:2}/${h:2:2}/$h"
	cp "$WORK/src$f" "$B/$d/$h.tmp" && mv "$B/$d/$h.tmp" "$B/$d/$h"
	for _ in 1 2 3; do cmp "$WORK/src$f" "$A/$d/$h"; done
done
sleep 2 # read cache fills
for f in 1 2 3; do
	h=$(sha1sum <"$WORK/src$f" | cut -c1-40)
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$WORK/src$f" "$A/filedir/${h:0:2}/${h:2:2}/$h"
done
touch "$A/lock1"
for i in $(seq 20); do
	flock "$A/lock1" -c "echo $i >>'$A/lock1'" &
	flock "$B/lock1" -c "echo $i >>'$B/lock1'"
	wait $!
done
python3 - "$A/lock1" <<'EOF'
import fcntl, sys
with open(sys.argv[1], "r+") as f:
    for _ in range(20):
        fcntl.lockf(f, fcntl.LOCK_EX, 10, 0)
        fcntl.lockf(f, fcntl.LOCK_UN, 10, 0)
EOF
cat "$A/.datarootfs-stats.txt" "$A/.datarootfs-stats.prom" >/dev/null
ls -lR "$A" >/dev/null
rm -rf "$A/cache" "$A/temp"
"${CTL[@]}" purge --read-cache >/dev/null
echo "# unmounting"
fusermount3 -u "$A"
for _ in $(seq 600); do kill -0 "$VGPID" 2>/dev/null || break; sleep 0.1; done
VGPID=
cp "$WORK/vg.log" /work/notes/vg.log 2>/dev/null || true
errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$WORK/vg.log" | tail -1)
grep -E "definitely lost|indirectly lost|ERROR SUMMARY" "$WORK/vg.log" | sed 's/^==[0-9]*== /# /'
if [ "${errs:-x}" != 0 ]; then
	sed 's/^/#   /' "$WORK/vg.log" | tail -n 60
	echo "valgrind: ${errs:-no summary (daemon died?)} error(s)"
	exit 1
fi
echo "valgrind: 0 errors"
