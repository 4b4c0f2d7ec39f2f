#!/usr/bin/env bash
# t1100: network partition of one node.  Node 1's daemon runs in its own
# network namespace, linked to the host by a veth pair; the test cuts the
# link while node 1 holds locks with unsaved (buffered) and in-flight
# writes under them.  Node 2 (host) must get both locks once node 1's
# lease has expired, fencing it; when the link returns node 1 must say so,
# rejoin with a new session, fail its old handles with EIO, and never
# write its stale data over what node 2 wrote meanwhile.
#
# The cluster of this test binds to the host end of the veth (node 1 cannot
# reach the host's 127.0.0.1).  The daemon enters only the *network*
# namespace (nsenter --net): `ip netns exec` would also give it a private
# mount namespace, and its FUSE mount would be invisible to the host.
# Cutting the link = setting the host end down: the namespace end loses
# carrier and silently drops packets, as in a real partition, while the
# host still reaches the cluster address.
. "$(dirname "$0")/lib.sh"
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
PY=/usr/bin/python3

NS=drfs-t1100-$$
VH=dft$$h # interface names: at most 15 characters
VN=dft$$n
o3=$((($$ / 64) % 250 + 1))
o4=$((($$ % 64) * 4))
HOST_IP=10.213.$o3.$((o4 + 1))
NS_IP=10.213.$o3.$((o4 + 2))
CL=${TEST_TMP:-/tmp}/t1100-cluster.$$

part_cleanup() {
	ip link set "$VH" up 2>/dev/null # let a stuck daemon finish
	t_cleanup
	"$TOP/scripts/dev-cluster.sh" down "$CL" >/dev/null 2>&1
	ip link del "$VH" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap part_cleanup EXIT

if ! ip netns add "$NS" 2>"$T_DIR/netns.err"; then
	echo "1..0 # SKIP ip netns is not possible here: $(head -n1 "$T_DIR/netns.err")"
	exit 0
fi
ip link add "$VH" type veth peer name "$VN" netns "$NS" &&
	ip addr add "$HOST_IP/30" dev "$VH" && ip link set "$VH" up &&
	ip -n "$NS" addr add "$NS_IP/30" dev "$VN" &&
	ip -n "$NS" link set "$VN" up && ip -n "$NS" link set lo up ||
	{ echo "not ok 1 - cannot set up the veth pair"; exit 1; }

port=$((43900 + RANDOM % 200))
while ss -ltn 2>/dev/null | grep -q ":$port "; do port=$((43900 + (port - 43899) % 200)); done
if ! "$TOP/scripts/dev-cluster.sh" up "$CL" --addr "$HOST_IP" --port "$port" \
	--osds 1 --osd-mem 512M >"$T_DIR/cluster.env" 2>"$T_DIR/cluster.err"; then
	echo "not ok 1 - cluster on $HOST_IP"; sed 's/^/#   /' "$T_DIR/cluster.err"
	exit 1
fi
CEPH_CONF=$CL/ceph.conf
say "cluster on $HOST_IP:$port, node 1 in netns $NS at $NS_IP"

# mount_ns MNT: mount_fs, but the daemon lives in the namespace's network.
mount_ns() {
	local mnt=$1 log pid deadline
	mkdir -p "$mnt"
	log="$T_DIR/daemon.$(basename "$mnt").log"
	nsenter --net="/run/netns/$NS" "$DATAROOTFS" -f -o "conf=$CEPH_CONF" \
		"$T_FS" "$mnt" >>"$log" 2>&1 &
	pid=$!
	T_PIDS[$mnt]=$pid
	deadline=$((SECONDS + 20))
	while ! grep -q " $mnt fuse.datarootfs " /proc/mounts; do
		kill -0 "$pid" 2>/dev/null || { sed 's/^/#   /' "$log"; return 1; }
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

# node_of MNT: the session UUID its daemon logged last.
node_of() {
	grep -oE '(as node|rejoined with session) [0-9a-f-]{36}' \
		"$T_DIR/daemon.$(basename "$1").log" | tail -n1 | awk '{print $NF}'
}

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_ns "$A" || exit 1
mount_fs "$B" || exit 1
ok "the namespaced daemon's mount is visible on the host" grep -q " $A fuse.datarootfs " /proc/mounts
echo hello >"$A/hello"
check_eq "node 1 (namespace) and node 2 (host) share the tree" hello "$(cat "$B/hello")"
N1=$(node_of "$A")
addr1=$(ctl status --json | jq -r --arg n "$N1" '.nodes[] | select(.node == $n) | .addr')
contains "node 1's session is registered from the namespace address" "$NS_IP" "$addr1"

# --- a short cut (11 s: past half the lease, short of its end) ---
# node 1 keeps a lock and unsaved data through it; nobody wants the lock,
# so nobody fences node 1, and when the link returns nothing is lost.
printf initial >"$B/Z"
CTL0=$T_DIR/ctl0
mkdir "$CTL0"
$PY - "$A/Z" "$CTL0" >"$T_DIR/holder0.out" 2>&1 <<'PY' &
import errno, fcntl, os, sys, time
f = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(f, fcntl.LOCK_EX)
os.pwrite(f, b"N1-KEPT", 0)
print("ready", flush=True)
while not os.path.exists(sys.argv[2] + "/back"): time.sleep(0.05)
try:
    os.close(f); print("close ok", flush=True)
except OSError as e:
    print("close", errno.errorcode[e.errno], flush=True)
PY
holder0=$!
deadline=$((SECONDS + 15))
until grep -q ready "$T_DIR/holder0.out" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
ip link set "$VH" down
sleep 11
ip link set "$VH" up
deadline=$((SECONDS + 30))
until grep -q 'no node broke it' "$T_DIR/daemon.node1.log" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
contains "short cut: node 1 logs that the cluster answers again, lease intact" \
	'the cluster answers again after 1[0-9.]+ s .*: lease renewed, no node broke it' "$(cat "$T_DIR/daemon.node1.log")"
touch "$CTL0/back"
wait $holder0
check_eq "short cut: the data node 1 wrote under its lock is saved at close" "ready
close ok" "$(cat "$T_DIR/holder0.out")"
check_eq "short cut: node 2 reads it" N1-KEPT "$(cat "$B/Z")"
check_eq "short cut: node 1 keeps its session" "$N1" "$(node_of "$A")"
ok "short cut: node 1 was not fenced" bash -c "! grep -q FENCED '$T_DIR/daemon.node1.log'"

echo durable >"$A/durable" # closed before the cut: must survive
printf initial >"$B/X"
printf initial >"$B/Y"

# --- a long cut: node 2 wants node 1's locks ---
# Node 1's holder: flock on X and an fcntl lock on Y, buffered writes under
# both; during the partition it fsyncs Y (a write in flight); once node 1
# has rejoined it uses its old handles.
CTL=$T_DIR/ctl
mkdir "$CTL"
$PY - "$A" "$CTL" >"$T_DIR/holder.out" 2>&1 <<'PY' &
import errno, fcntl, os, sys, time
d, ctl = sys.argv[1], sys.argv[2]
def say(*a): print(*a, flush=True)
def wait(name):
    while not os.path.exists(os.path.join(ctl, name)): time.sleep(0.05)
def attempt(what, fn):
    try: fn(); say(what, "ok")
    except OSError as e: say(what, errno.errorcode.get(e.errno, e.errno))
x = os.open(d + "/X", os.O_RDWR)
fcntl.flock(x, fcntl.LOCK_EX)
os.pwrite(x, b"N1-STALE-X." * 100, 0)    # stays in node 1's write-back buffer
y = os.open(d + "/Y", os.O_RDWR)
fcntl.lockf(y, fcntl.LOCK_EX)
os.pwrite(y, b"N1-STALE-Y." * 100, 0)
say("ready")
wait("cut")
attempt("fsync-y", lambda: os.fsync(y))  # hangs while the link is down
wait("rejoined")
attempt("read-x", lambda: os.pread(x, 10, 0))
attempt("write-x", lambda: os.pwrite(x, b"N1-LATE", 0))
attempt("flock-x", lambda: fcntl.flock(x, fcntl.LOCK_UN))
attempt("close-x", lambda: os.close(x))
attempt("close-y", lambda: os.close(y))
say("done")
PY
holder=$!
deadline=$((SECONDS + 15))
until grep -q ready "$T_DIR/holder.out" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
check_eq "node 1 holds flock(X) and lockf(Y) with buffered writes" ready "$(cat "$T_DIR/holder.out")"
ok "node 2 cannot take flock(X) meanwhile" bash -c "! flock -n -x '$B/X' -c true"

# node 1 caches a name, and the absence of another (coherent cache)
echo cached >"$B/cached"
cat "$A/cached" >/dev/null
test -e "$A/newname"

# --- cut ---
ip link set "$VH" down
cut=$SECONDS
touch "$CTL/cut"
say "link cut"
( flock -w 45 -x "$B/X" -c "printf N2-OWNS-X >'$B/X'" && echo "$((SECONDS - cut))" >"$T_DIR/gotX" ) &
getx=$!
( $PY - "$B/Y" <<'PY' && echo "$((SECONDS - cut))" >"$T_DIR/gotY"
import fcntl, os, sys
f = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(f, fcntl.LOCK_EX)          # blocks until node 1 is fenced
os.pwrite(f, b"N2-OWNS-Y", 0)
os.ftruncate(f, 9)
os.close(f)
PY
) &
gety=$!
wait $getx; rx=$?
wait $gety; ry=$?
check_eq "node 2 gets node 1's flock(X) and writes under it" 0 "$rx"
check_eq "node 2 gets node 1's lockf(Y) and writes under it" 0 "$ry"
tx=$(cat "$T_DIR/gotX" 2>/dev/null || echo 999)
ty=$(cat "$T_DIR/gotY" 2>/dev/null || echo 999)
say "node 2 got the locks ${tx} s (X) and ${ty} s (Y) after the cut"
ok "node 2 waited for the lease (${tx} s >= 15 s)" test "$tx" -ge 15
ok "node 2 got them within the lease bound (${tx} s, ${ty} s <= 28 s)" test "$tx" -le 28 -a "$ty" -le 28
bl=$(ceph -c "$CEPH_CONF" osd blocklist ls 2>/dev/null)
contains "node 1's client instance is blocklisted" "${addr1#v2:}" "$bl"
contains "node 2 logged the fencing" 'missed its lease: blocklisted' "$(cat "$T_DIR/daemon.node2.log")"
check_eq "X holds node 2's data" N2-OWNS-X "$(cat "$B/X")"
# names node 1 has cached change while it cannot hear about it
rm "$B/cached"
echo new >"$B/newname"

# --- the link returns ---
ip link set "$VH" up
back=$SECONDS
say "link restored"
deadline=$((SECONDS + 40))
until grep -q 'rejoined with session' "$T_DIR/daemon.node1.log" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
rejoin_s=$((SECONDS - back))
log1=$(cat "$T_DIR/daemon.node1.log")
contains "node 1 logs that the cluster answers again" 'the cluster answers again after [0-9.]+ s' "$log1"
contains "node 1 logs that it was fenced" 'THIS NODE HAS BEEN FENCED' "$log1"
contains "node 1 rejoined with a new session (${rejoin_s} s after the link returned)" \
	'fenced by the cluster \(noticed at .*\); rejoined with session [0-9a-f-]{36} .*file\(s\) with unsaved writes dropped' "$log1"
say "$(grep 'rejoined with session' "$T_DIR/daemon.node1.log")"
ok "rejoined within 20 s of the link's return" test "$rejoin_s" -le 20
N1b=$(node_of "$A")
ok "the new session differs from the old one" test -n "$N1b" -a "$N1b" != "$N1"
st=$(ctl status --json)
check_eq "datarootctl status: node 1's new session is alive" true \
	"$(jq -r --arg n "$N1b" '.nodes[] | select(.node == $n) | .alive' <<<"$st")"
check_eq "datarootctl status: the old session is gone" "" \
	"$(jq -r --arg n "$N1" '.nodes[] | select(.node == $n) | .node' <<<"$st")"
contains "the new session has a new client address" "$NS_IP" \
	"$(jq -r --arg n "$N1b" '.nodes[] | select(.node == $n) | .addr' <<<"$st")"

touch "$CTL/rejoined"
deadline=$((SECONDS + 20))
until grep -q "done" "$T_DIR/holder.out" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
wait $holder 2>/dev/null
h=$(cat "$T_DIR/holder.out")
contains "the fsync in flight during the partition failed (EIO)" '^fsync-y EIO$' "$h"
contains "old handle: read fails with EIO" '^read-x EIO$' "$h"
contains "old handle: write fails with EIO" '^write-x EIO$' "$h"
contains "old handle: unlock fails with EIO" '^flock-x EIO$' "$h"
contains "old handle: close reports the lost writes (EIO)" '^close-x EIO$' "$h"

# node 1 works again, and its stale writes never landed
check_eq "node 1 reads node 2's X (its buffered write was dropped)" N2-OWNS-X "$(cat "$A/X")"
check_eq "node 1 reads node 2's Y (its in-flight write never landed)" N2-OWNS-Y "$(cat "$A/Y")"
check_eq "data closed before the cut survived" durable "$(cat "$B/durable")"
ok "node 1 does not show the file deleted while it was cut off" test ! -e "$A/cached"
check_eq "node 1 sees the file created while it was cut off" new "$(cat "$A/newname" 2>/dev/null)"
echo after >"$A/after"
check_eq "node 1 writes again (new open), node 2 reads it" after "$(cat "$B/after")"
ok "node 1 takes flock(X) again" flock -n -x "$A/X" -c true
ok "node 2 still can, afterwards (node 1 holds nothing)" flock -n -x "$B/X" -c true
contains "node 1's statistics: not fenced, rejoined once" 'fenced +no \(rejoined 1 time' "$(cat "$A/.datarootfs-stats.txt")"

umount_fs "$A"
umount_fs "$B"
mount_fs "$B" || exit 1
check_eq "after both unmounted, a fresh mount reads node 2's X" N2-OWNS-X "$(cat "$B/X")"
umount_fs "$B"
check_daemon_logs 'metadata cache (off: watch on inv\.[0-7] lost|on again)|did not acknowledge a cache invalidation|missed its lease|THIS NODE HAS BEEN FENCED|the cluster answers again|rejoined with session|write-back of inode .* failed|watch on the superblock lost|lock watch on .* lost|cannot renew the node lease'
done_testing
