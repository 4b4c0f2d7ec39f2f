#!/usr/bin/env bash
# t0720: node-local lock grants (delegations, fs/lock.c).  A node that
# keeps using a lock object alone takes its delegation ("d" key) and then
# locks and unlocks it without RADOS I/O; another node recalls it (and is
# refused while a lock is held, granted at once when none is, F_GETLK
# included); an idle delegation is given back; a frozen holder is fenced
# after its lease and loses its local grants; a killed holder's locks end
# with its lease.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
RADOS="rados -c $CEPH_CONF -p datarootfs -N"

mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2 C=$T_DIR/node3
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
mount_fs "$C" || exit 1

dstat() { # MNT FIELD: a counter of the node's "delegations" line
	sed -n "s/^delegations .*$2=\([0-9]*\).*/\1/p" "$1/.datarootfs-stats.txt"
}
rados_writes() {
	sed -n 's/^rados ops *read=[0-9]* write=\([0-9]*\).*/\1/p' "$1/.datarootfs-stats.txt"
}
node_of() {
	sed -n 's/^filesystem .*node \([0-9a-f-]*\)$/\1/p' "$1/.datarootfs-stats.txt"
}
lkobj() { printf 'l.%016x' "$(stat -c %i "$1")"; }
deleg_of() { # FILE: the node its lock object's "d" key names ("" none)
	rm -f "$T_DIR/dval"
	$RADOS "$T_FS" getomapval "$(lkobj "$1")" d "$T_DIR/dval" >/dev/null 2>&1
	cat "$T_DIR/dval" 2>/dev/null
}
keys_of() { $RADOS "$T_FS" listomapkeys "$(lkobj "$1")" 2>/dev/null; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# lk.py: churn FILE N (flock pairs) | fchurn FILE N (fcntl pairs) |
# hold FILE SECS flock|posix READY (churn first, then hold an exclusive
# lock of the whole file / bytes 0-99, touch READY) | getlk FILE START LEN
cat >"$T_DIR/lk.py" <<'PY'
import fcntl, os, struct, sys, time
mode, path = sys.argv[1], sys.argv[2]
f = open(path, "r+")
def fl(t, start=0, ln=100):
    fcntl.fcntl(f, fcntl.F_SETLK, struct.pack("hhqqi", t, 0, start, ln, 0))
if mode == "churn":
    for i in range(int(sys.argv[3])):
        fcntl.flock(f, fcntl.LOCK_EX); fcntl.flock(f, fcntl.LOCK_UN)
elif mode == "fchurn":
    for i in range(int(sys.argv[3])):
        fl(fcntl.F_WRLCK); fl(fcntl.F_UNLCK)
elif mode == "hold":
    secs, kind, ready = float(sys.argv[3]), sys.argv[4], sys.argv[5]
    for i in range(5):
        if kind == "flock":
            fcntl.flock(f, fcntl.LOCK_EX); fcntl.flock(f, fcntl.LOCK_UN)
        else:
            fl(fcntl.F_WRLCK); fl(fcntl.F_UNLCK)
    if kind == "flock":
        fcntl.flock(f, fcntl.LOCK_EX)
    else:
        fl(fcntl.F_WRLCK)
    open(ready, "w").close()
    time.sleep(secs)
elif mode == "getlk":
    r = fcntl.fcntl(f, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0,
                    int(sys.argv[3]), int(sys.argv[4]), 0))
    t, _, s, l, _ = struct.unpack("hhqqi", r)
    print({fcntl.F_UNLCK: "unlck", fcntl.F_WRLCK: "wrlck",
           fcntl.F_RDLCK: "rdlck"}[t], s, l)
PY
lk() { $PY "$T_DIR/lk.py" "$@"; }
# hold_bg MNT FILE SECS KIND: a holder in the background; waits until it
# holds the lock; its pid in $HOLDER
hold_bg() {
	rm -f "$T_DIR/ready"
	lk hold "$1/$2" "$3" "$4" "$T_DIR/ready" & HOLDER=$!
	for i in $(seq 100); do
		[ -e "$T_DIR/ready" ] && return 0
		sleep 0.05
	done
	return 1
}

NA=$(node_of "$A")
for f in idle f1 f2 f3 f4 f6 f7; do touch "$A/$f"; done
sleep 0.3

# the idle give-back is timed from here (it is checked last but one)
lk churn "$A/idle" 10
idle_t0=$(date +%s%N)
check_eq "a node using a lock object alone takes its delegation" "$NA" "$(deleg_of "$A/idle")"

# 1. under the delegation, lock and unlock cost no RADOS write
lk churn "$A/f1" 5
l0=$(dstat "$A" local) w0=$(rados_writes "$A")
lk churn "$A/f1" 100
sleep 0.5
l1=$(dstat "$A" local) w1=$(rados_writes "$A")
say "100 flock pairs: $((w1 - w0)) RADOS writes, $((l1 - l0)) local grants"
ok "100 flock pairs granted locally ($((l1 - l0)) local)" test $((l1 - l0)) -ge 200
# the lease thread writes 2 objects every 4 s: a little slack
ok "100 flock pairs: no RADOS write of their own ($((w1 - w0)))" test $((w1 - w0)) -le 4
check_eq "the delegation is named in l.<f1>" "$NA" "$(deleg_of "$A/f1")"

# 2. held under the delegation: another node is refused, after a recall
# that writes the exact record out; the unlock then frees it at once
hold_bg "$A" f1 3 flock || say "holder not ready"
r0=$(dstat "$B" recalls_sent)
t0=$(date +%s%N)
flock -n -x "$B/f1" -c true && got=granted || got=refused
took=$(ms_since "$t0")
check_eq "node2 is refused a lock node1 holds under its delegation" refused "$got"
ok "the recall was answered, not timed out ($took ms; one try is 3 s)" test "$took" -lt 2500
ok "node2 counted the recall" test "$(dstat "$B" recalls_sent)" -gt "$r0"
check_eq "the delegation is given back" "" "$(deleg_of "$A/f1")"
ok "node1's lock record is in the object now" bash -c "grep -q '^$NA:' <<<'$(keys_of "$A/f1")'"
t0=$(date +%s%N)
flock -w 10 -x "$B/f1" -c true; rc=$?
took=$(ms_since "$t0")
wait $HOLDER
check_eq "node2 waits, then gets it" 0 "$rc"
ok "woken by the unlock, not later ($took ms, held ~3000 ms)" test "$took" -lt 4500
ok "no record of node1 left in l.<f1>" bash -c "! grep -q '^$NA:' <<<'$(keys_of "$A/f1")'"

# 3. a delegation without a lock held: handed over at once
lk churn "$A/f2" 10
check_eq "node1 holds the delegation of f2" "$NA" "$(deleg_of "$A/f2")"
t0=$(date +%s%N)
flock -n -x "$B/f2" -c true && got=granted || got=refused
took=$(ms_since "$t0")
check_eq "node2 gets the free lock of a delegated object" granted "$got"
ok "at once ($took ms)" test "$took" -lt 2000
check_eq "and the delegation is gone" "" "$(deleg_of "$A/f2")"
lk churn "$A/f2" 10
ok "a recalled node does not take it again at once (cool-down)" \
	test -z "$(deleg_of "$A/f2")"

# 4. F_GETLK through a recall, and on the holder's node
hold_bg "$A" f3 6 posix || say "holder not ready"
check_eq "the posix holder took the delegation of f3" "$NA" "$(deleg_of "$A/f3")"
check_eq "F_GETLK on node1 (another process) sees the local lock" \
	"wrlck 0 100" "$(lk getlk "$A/f3" 50 10)"
check_eq "F_GETLK on node1, a range not locked" "unlck 200 10" "$(lk getlk "$A/f3" 200 10)"
check_eq "F_GETLK on node2 sees it (after a recall)" "wrlck 0 100" "$(lk getlk "$B/f3" 50 10)"
check_eq "F_GETLK on node2, a range not locked" "unlck 200 10" "$(lk getlk "$B/f3" 200 10)"
check_eq "the F_GETLK recalled the delegation" "" "$(deleg_of "$A/f3")"
kill $HOLDER 2>/dev/null
wait $HOLDER 2>/dev/null

# 5. idle: given back within DELEG_IDLE (20 s) + the 2 s scan
lk churn "$A/f4" 10
check_eq "node1 holds the delegation of f4" "$NA" "$(deleg_of "$A/f4")"
while [ "$(ms_since "$idle_t0")" -lt 15000 ]; do sleep 0.5; done
check_eq "still held after 15 s idle" "$NA" "$(deleg_of "$A/idle")"
while [ -n "$(deleg_of "$A/idle")" ] && [ "$(ms_since "$idle_t0")" -lt 30000 ]; do
	sleep 0.5
done
took=$(ms_since "$idle_t0")
check_eq "an idle delegation is given back" "" "$(deleg_of "$A/idle")"
ok "after 20-24 s idle ($took ms)" test "$took" -ge 19000 -a "$took" -le 26000
check_eq "and leaves no record" "" "$(keys_of "$A/idle")"

# 6. a frozen holder (node1, its delegation of f6 idle) and a killed one
# (node3, holding f7), at the same time: node2 gets both locks once their
# leases end, not before.  The frozen one, thawed, is fenced: it must not
# grant f6 locally while node2 holds it, even to a request it serves
# before it learns from the cluster that it was fenced.
NC=$(node_of "$C")
lk churn "$A/f6" 10
hold_bg "$C" f7 300 flock || say "holder not ready"
HC=$HOLDER
check_eq "node1 holds the delegation of f6" "$NA" "$(deleg_of "$A/f6")"
check_eq "node3 holds f7 under its delegation" "$NC" "$(deleg_of "$C/f7")"
# a prober with f6 open on node1: LOCK_NB once $T_DIR/probe exists
$PY - "$A/f6" "$T_DIR/probe" "$T_DIR/thawed" <<'PY' &
import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    r = "granted"
except OSError as e:
    r = "refused"
open(sys.argv[3], "w").write(r)
PY
PROBER=$!
for i in $(seq 100); do [ -e "$T_DIR/probe.ready" ] && break; sleep 0.05; done
PA=${T_PIDS[$A]}
kill -STOP "$PA"
crash_fs "$C"
kill $HC 2>/dev/null
t0=$(date +%s%N)
( flock -w 40 -x "$B/f6" -c "echo \$((\$(date +%s%N) / 1000000)) >'$T_DIR/got6'; sleep 10" ) &
W6=$!
flock -w 40 -x "$B/f7" -c "echo \$((\$(date +%s%N) / 1000000)) >'$T_DIR/got7'"
rc7=$?
for i in $(seq 80); do [ -s "$T_DIR/got6" ] && break; sleep 0.5; done
t0ms=$((t0 / 1000000))
took6=$(($(cat "$T_DIR/got6" 2>/dev/null || echo 0) - t0ms))
took7=$(($(cat "$T_DIR/got7" 2>/dev/null || echo 0) - t0ms))
say "frozen holder's lock granted after $took6 ms, killed holder's after $took7 ms"
check_eq "node2 gets the killed holder's lock" 0 "$rc7"
ok "only after its lease ($took7 ms >= 15000; lease 20 s, renewed every 4 s)" \
	test "$took7" -ge 15000 -a "$took7" -lt 35000
ok "node2 gets f6 from the frozen node only after its lease ($took6 ms)" \
	test "$took6" -ge 15000 -a "$took6" -lt 35000
check_eq "the dead node's delegation is dropped" "" "$(deleg_of "$B/f7")"
check_eq "the frozen node's delegation is dropped" "" "$(deleg_of "$B/f6")"
touch "$T_DIR/probe"
sleep 0.5 # the prober's request waits in the kernel for the frozen daemon
t0=$(date +%s%N)
kill -CONT "$PA"
wait $PROBER
check_eq "the thawed node1 does not grant f6 locally (node2 holds it)" refused "$(cat "$T_DIR/thawed")"
say "thawed node1 answered in $(ms_since "$t0") ms"
wait $W6
for i in $(seq 60); do
	flock -n -x "$A/f6" -c true 2>/dev/null && break
	sleep 0.5
done
ok "node1 locks f6 again once node2 let go (rejoined)" flock -n -x "$A/f6" -c true
ok "node1 logged that its delegation was broken or its session fenced" \
	grep -q -E 'delegation of lock object .* was broken|FENCED|rejoined' "$T_DIR/daemon.node1.log"

umount_fs "$A"
umount_fs "$B"
check_daemon_logs 'delegation of lock object .* was broken|watch on the superblock lost|missed its lease|FENCED|fenced by the cluster|rejoin|blocklist|lease|lock watch on .* lost|watch of lock object .* lost|metadata cache (off|on again)|did not acknowledge'
done_testing
