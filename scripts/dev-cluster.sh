#!/usr/bin/env bash
# dev-cluster.sh: a throwaway Ceph 16 (Pacific) cluster on loopback, for
# datarootfs development and tests.  Everything lives inside one directory.
#
#   dev-cluster.sh up DIR [--osds N] [--port P] [--addr IP] [--cephfs] [--osd-mem BYTES]
#   dev-cluster.sh down DIR
#   dev-cluster.sh status DIR
#   dev-cluster.sh kill DIR NAME [SIGNAL]   (NAME: mon.a, mgr.x, mds.a, osd.N)
#   dev-cluster.sh start DIR NAME
#   dev-cluster.sh wait DIR [--timeout S]
#
# up: 1 mon (IP:P, msgr2, default 127.0.0.1:40000), 1 mgr, N memstore OSDs
# (default 3, BYTES of RAM each, default 4 GiB), a replicated pool `datarootfs`
# (size min(3,N), min_size min(2,N), pg_num 32, application `datarootfs`) and,
# with --cephfs, one MDS and a CephFS `cephfs` (pools cephfs_meta, cephfs_data).
# It returns once every PG is active+clean (and the MDS is active), printing
#   CEPH_CONF=DIR/ceph.conf
#   CEPH_KEYRING=DIR/keyring
#   CEPH_MON=IP:P
# on stdout (also written to DIR/env); progress and errors go to stderr.
# Clients need nothing but the conf: `rados -c DIR/ceph.conf lspools`.
#
# down: SIGKILLs exactly the daemons recorded in DIR/pids (after checking that
# each one's command line names DIR/ceph.conf), waits for them, removes DIR.
# Unmount any ceph-fuse / datarootfs mount of the cluster first.
#
# kill / start / wait (fault tests): SIGNAL (default KILL) one recorded
# daemon and wait until it is gone; start it again on its data directory
# (a memstore OSD comes back empty after SIGKILL and is recovered from its
# peers; after SIGTERM with osd_fast_shutdown off it reloads what it
# saved); wait until every OSD is up and every PG active+clean.
#
# Several clusters can run side by side with different DIRs and mon ports.
# The mon port must lie outside 6800-7300, where OSDs, mgr and MDS bind.
# --addr IP binds every daemon to that local IPv4 address instead of
# 127.0.0.1 (e.g. a veth address, so that clients in another network
# namespace reach the cluster: tests/integration/t1100-partition.sh).
#
# Environment: DEV_CLUSTER_TIMEOUT (seconds `up` waits for readiness, 60).
set -Eeuo pipefail

PROG=dev-cluster
TIMEOUT=${DEV_CLUSTER_TIMEOUT:-60}

usage() {
	cat >&2 <<EOF
usage: $0 up DIR [--osds N] [--port P] [--addr IP] [--cephfs] [--osd-mem BYTES]
       $0 down DIR
       $0 status DIR
       $0 kill DIR NAME [SIGNAL]
       $0 start DIR NAME
       $0 wait DIR [--timeout S]
EOF
	exit 2
}

log() { echo "$PROG: $*" >&2; }
die() {
	echo "$PROG: error: $*" >&2
	exit 1
}

# --- process bookkeeping ------------------------------------------------------

# proc_state PID: the state letter of PID (R, S, D, Z...), empty if gone.
proc_state() {
	local st
	{ st=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
	st=${st##*) }
	echo "${st%% *}"
}

# owned PID: true if PID is a live (non-zombie) process started for this
# cluster, i.e. one of its arguments is exactly $DIR/ceph.conf.
owned() {
	local pid=$1 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	state=$(proc_state "$pid")
	[[ -n $state && $state != Z && $state != X ]] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DIR/ceph.conf"
}

# live_pids: the recorded daemon PIDs that are still running.
live_pids() {
	local f pid
	for f in "$DIR"/pids/*.pid; do
		[[ -f $f ]] || continue
		pid=$(<"$f") || continue
		if owned "$pid"; then echo "$pid"; fi
	done
}

# kill_all: SIGKILL the recorded daemons and wait (<= 10 s) until they are gone.
kill_all() {
	local pids pid i
	mapfile -t pids < <(live_pids)
	[[ ${#pids[@]} -gt 0 ]] || return 0
	for pid in "${pids[@]}"; do
		if owned "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	done
	for ((i = 0; i < 200; i++)); do
		local left=0
		for pid in "${pids[@]}"; do
			if owned "$pid"; then left=1; fi
		done
		[[ $left -eq 0 ]] && return 0
		sleep 0.05
	done
	log "warning: some daemons did not exit: $(live_pids | tr '\n' ' ')"
	return 1
}

# --- up -----------------------------------------------------------------------

CEPH_TIMEOUT=15 # seconds for one ceph CLI call
ceph_cli() {
	timeout "$CEPH_TIMEOUT" ceph -c "$DIR/ceph.conf" --connect-timeout "$CEPH_TIMEOUT" "$@"
}

# start NAME CMD...: run a daemon in the foreground in its own session,
# logging stdout/stderr to DIR/log/NAME.out, and record its PID.
start() {
	local name=$1
	shift
	setsid "$@" -f </dev/null >>"$DIR/log/$name.out" 2>&1 &
	echo $! >"$DIR/pids/$name.pid"
	disown $!
	STARTED+=("$name")
}

UP_DONE=0
# fail MSG [LOG]: one-line error, tail of LOG, stop what was started, exit 1.
fail() {
	echo "$PROG: up failed: $1" >&2
	local lf=${2:-}
	if [[ -n $lf && -s $lf ]]; then
		echo "--- tail of $lf ---" >&2
		tail -n 25 "$lf" >&2
		echo "---" >&2
	fi
	UP_DONE=1 # the EXIT trap must not report again
	kill_all || true
	log "daemons stopped; logs kept in $DIR/log (run '$0 down $DIR' to remove)"
	exit 1
}

on_exit() {
	local rc=$?
	if [[ $UP_DONE -eq 0 ]]; then
		UP_DONE=1
		if ((rc > 128)); then
			echo "$PROG: up interrupted (signal $((rc - 128))); stopping the daemons started" >&2
		else
			echo "$PROG: up failed: unexpected error (exit status $rc near line ${ERR_LINE:-?}); stopping the daemons started" >&2
		fi
		kill_all || true
	fi
}

# daemon_log NAME: the log file that best explains NAME's failure.
daemon_log() {
	local name=$1
	if [[ -s $DIR/log/$name.out ]] && ! [[ -s $DIR/log/$name.log ]]; then
		echo "$DIR/log/$name.out"
	elif [[ -s $DIR/log/$name.out ]] && grep -qvE '^$|^(2[0-9-]+T|ignoring --setuser)' "$DIR/log/$name.out"; then
		echo "$DIR/log/$name.out"
	else
		echo "$DIR/log/$name.log"
	fi
}

# check_daemons: fail if a started daemon has died.
check_daemons() {
	local name pid
	for name in "${STARTED[@]}"; do
		pid=$(<"$DIR/pids/$name.pid")
		if ! owned "$pid"; then
			fail "$name (pid $pid) exited during startup" "$(daemon_log "$name")"
		fi
	done
}

# wait_mon_listening: until our mon listens on PORT (fail if another does).
wait_mon_listening() {
	local pid i out
	pid=$(<"$DIR/pids/mon.a.pid")
	for ((i = 0; i < 200; i++)); do
		out=$(ss -Hltnp "sport = :$PORT" 2>/dev/null) || out=
		if grep -q "pid=$pid," <<<"$out"; then return 0; fi
		if [[ -n $out ]]; then
			fail "mon port $ADDR:$PORT is taken by another process: $(grep -o 'users:.*' <<<"$out")"
		fi
		owned "$pid" || fail "mon.a (pid $pid) exited during startup" "$(daemon_log mon.a)"
		sleep 0.05
	done
	fail "mon.a does not listen on $ADDR:$PORT after 10s" "$(daemon_log mon.a)"
}

write_conf() {
	local size=$1 min_size=$2
	cat >"$DIR/ceph.conf" <<EOF
# Throwaway dev cluster made by scripts/dev-cluster.sh; removed by 'down'.
[global]
fsid = $FSID
mon host = [v2:$ADDR:$PORT]
mon initial members = a
public addr = $ADDR
cluster addr = $ADDR
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
crash dir = $DIR/crash
log file = $DIR/log/\$name.log
mon data = $DIR/\$name
mgr data = $DIR/\$name
osd data = $DIR/\$name
mds data = $DIR/\$name
osd objectstore = memstore
memstore device bytes = $OSD_MEM
osd crush chooseleaf type = 0
osd pool default size = $size
osd pool default min size = $min_size
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon pg warn min per osd = 0
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.1
mgr stats period = 1
mgr tick period = 1

[mon]
mon cluster log file = $DIR/log/ceph.\$channel.log
keyring = $DIR/\$name/keyring
mgr initial modules =

[mgr]
keyring = $DIR/\$name/keyring
mgr disabled modules = $MGR_DISABLED

[osd]
keyring = $DIR/\$name/keyring

[mds]
keyring = $DIR/\$name/keyring
mds beacon interval = 1

[client]
keyring = $DIR/keyring
log file = $DIR/log/client.log
EOF
}

# keyring_entry NAME KEY CAP...: one keyring section (caps as "svc=spec").
keyring_entry() {
	local name=$1 key=$2 c
	shift 2
	printf '[%s]\n\tkey = %s\n' "$name" "$key"
	for c in "$@"; do
		printf '\tcaps %s = "%s"\n' "${c%%=*}" "${c#*=}"
	done
}

# ready_state OSDS CEPHFS: set READY to "ok" when all OSDS OSDs are up and
# in, every pool's PGs are known to the mgr and active+clean and (CEPHFS=1)
# an MDS is active; otherwise to what is missing ("osds", "pgs", "mds", or
# empty when the cluster does not answer).  The last status is kept in
# DIR/log/last-status.json.
ready_state() {
	local js
	READY=
	js=$(ceph_cli -f json <<<$'status\nosd dump' 2>/dev/null) || js=
	[[ -n $js ]] || return 0
	echo "$js" >"$DIR/log/last-status.json"
	READY=$(jq -rs --argjson osds "$1" --argjson fs "$2" '
		(.[0]) as $s | (.[1]) as $o |
		([$o.pools[].pg_num] | add // 0) as $want |
		([$s.pgmap.pgs_by_state[]? | select(.state_name == "active+clean") | .count] | add // 0) as $clean |
		if $s.osdmap.num_up_osds != $osds or $s.osdmap.num_in_osds != $osds then "osds"
		elif $want == 0 or $s.pgmap.num_pgs != $want or $clean != $want then "pgs"
		elif $fs == 1 and ([$s.fsmap.by_rank[]? | select(.status == "up:active")] | length) == 0 then "mds"
		else "ok" end' <<<"$js" 2>/dev/null) || READY=
	if [[ -n ${DEV_CLUSTER_DEBUG:-} ]]; then
		log "$EPOCHREALTIME $READY $(jq -cs '[.[0].osdmap.num_up_osds, .[0].pgmap.num_pgs, ([.[1].pools[].pg_num]|add), .[0].pgmap.pgs_by_state, .[0].fsmap.by_rank]' <<<"$js" 2>&1)"
	fi
}

cmd_up() {
	local osds=3 cephfs=0
	PORT=40000
	ADDR=127.0.0.1
	OSD_MEM=$((4 << 30))
	while [[ $# -gt 0 ]]; do
		case $1 in
		--osds) [[ $# -ge 2 ]] || usage; osds=$2; shift 2 ;;
		--port) [[ $# -ge 2 ]] || usage; PORT=$2; shift 2 ;;
		--addr) [[ $# -ge 2 ]] || usage; ADDR=$2; shift 2 ;;
		--osd-mem) [[ $# -ge 2 ]] || usage; OSD_MEM=$2; shift 2 ;;
		--cephfs) cephfs=1; shift ;;
		*) usage ;;
		esac
	done
	[[ $osds =~ ^[1-9][0-9]*$ ]] || die "--osds must be a positive integer"
	if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then die "--port must be 1..65535"; fi
	((PORT < 6800 || PORT > 7300)) || die "--port $PORT lies in 6800-7300, which the OSDs/mgr/MDS use"
	[[ $ADDR =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "--addr must be an IPv4 address"
	local addrs
	addrs=$(ip -4 -o addr show 2>/dev/null) || addrs=
	[[ $ADDR == 127.0.0.1 ]] || grep -qF " inet $ADDR/" <<<"$addrs" ||
		die "--addr $ADDR is not an address of this host (ip addr add it first)"
	OSD_MEM=$(numfmt --from=iec -- "$OSD_MEM" 2>/dev/null) || OSD_MEM=
	[[ $OSD_MEM =~ ^[1-9][0-9]*$ ]] || die "--osd-mem must be a byte count (suffixes K, M, G allowed)"

	if [[ -d $DIR ]]; then
		if [[ -n $(live_pids) ]]; then
			die "$DIR already holds a running cluster (see '$0 status $DIR')"
		fi
		if [[ -e $DIR/.dev-cluster ]]; then
			rm -rf -- "$DIR" # a stale cluster: start afresh
		elif [[ -n $(ls -A -- "$DIR") ]]; then
			die "$DIR exists, is not empty and is not a dev cluster"
		fi
	fi
	if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
		die "port $PORT is already in use (choose another with --port)"
	fi

	local t0=$SECONDS size min_size i
	size=$((osds < 3 ? osds : 3))
	min_size=$((osds < 2 ? osds : 2))
	mkdir -p "$DIR"
	touch "$DIR/.dev-cluster"
	mkdir -p "$DIR"/{pids,log,run,crash,mgr.x}
	STARTED=()
	trap 'ERR_LINE=$LINENO' ERR
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP

	FSID=$(cat /proc/sys/kernel/random/uuid)
	# Modules the mgr should not even import (each costs start-up time).
	# Always-on ones (balancer crash devicehealth orchestrator pg_autoscaler
	# progress rbd_support status telemetry volumes) are kept.
	MGR_DISABLED="alerts diskprediction_local influx insights iostat localpool mirroring nfs osd_perf_query osd_support prometheus restful selftest snap_schedule stats telegraf test_orchestrator zabbix k8sevents cephadm rook dashboard"
	write_conf "$size" "$min_size"

	# Keys: every daemon's key (with caps) goes into the mon's mkfs keyring,
	# so the mon knows them all from the start; each daemon gets its own.
	local k all="$DIR/mkfs.keyring"
	k=$(ceph-authtool --gen-print-key)
	keyring_entry mon. "$k" "mon=allow *" >"$all"
	k=$(ceph-authtool --gen-print-key)
	keyring_entry client.admin "$k" "mon=allow *" "osd=allow *" "mds=allow *" "mgr=allow *" | tee -a "$all" >"$DIR/keyring"
	k=$(ceph-authtool --gen-print-key)
	keyring_entry mgr.x "$k" "mon=allow profile mgr" "osd=allow *" "mds=allow *" | tee -a "$all" >"$DIR/mgr.x/keyring"
	for ((i = 0; i < osds; i++)); do
		mkdir -p "$DIR/osd.$i"
		k=$(ceph-authtool --gen-print-key)
		keyring_entry "osd.$i" "$k" "mon=allow profile osd" "mgr=allow profile osd" "osd=allow *" | tee -a "$all" >"$DIR/osd.$i/keyring"
	done
	if [[ $cephfs -eq 1 ]]; then
		mkdir -p "$DIR/mds.a"
		k=$(ceph-authtool --gen-print-key)
		keyring_entry mds.a "$k" "mon=allow profile mds" "mgr=allow profile mds" "osd=allow *" "mds=allow" | tee -a "$all" >"$DIR/mds.a/keyring"
	fi
	chmod 600 "$all" "$DIR/keyring" "$DIR"/*/keyring

	# Mon.
	monmaptool --create --fsid "$FSID" --addv a "[v2:$ADDR:$PORT]" "$DIR/monmap" >"$DIR/log/monmaptool.out" 2>&1 ||
		fail "monmaptool failed" "$DIR/log/monmaptool.out"
	ceph-mon -c "$DIR/ceph.conf" -i a --mkfs --monmap "$DIR/monmap" --keyring "$all" >"$DIR/log/mon-mkfs.out" 2>&1 ||
		fail "ceph-mon --mkfs failed" "$DIR/log/mon-mkfs.out"
	start mon.a ceph-mon -c "$DIR/ceph.conf" -i a
	wait_mon_listening
	start mgr.x ceph-mgr -c "$DIR/ceph.conf" -i x
	if [[ $cephfs -eq 1 ]]; then
		start mds.a ceph-mds -c "$DIR/ceph.conf" -i a
	fi

	# OSD stores (memstore mkfs needs no mon) while the mgr starts.
	local uuids=() pids=()
	for ((i = 0; i < osds; i++)); do
		uuids[i]=$(cat /proc/sys/kernel/random/uuid)
		ceph-osd -c "$DIR/ceph.conf" -i "$i" --mkfs --osd-uuid "${uuids[i]}" --no-mon-config \
			>"$DIR/log/osd.$i-mkfs.out" 2>&1 &
		pids[i]=$!
	done
	for ((i = 0; i < osds; i++)); do
		wait "${pids[i]}" || fail "ceph-osd --mkfs of osd.$i failed" "$DIR/log/osd.$i-mkfs.out"
	done

	# Register the OSDs and create the pools in one CLI session.
	# (devicehealth, an always-on mgr module, would otherwise create a pool
	# `device_health_metrics` a few seconds after the OSDs are up.)
	local cmds="config set mgr mgr/devicehealth/enable_monitoring false --force"$'\n' out
	for ((i = 0; i < osds; i++)); do
		cmds+="osd new ${uuids[i]} $i"$'\n'
	done
	cmds+="osd pool create datarootfs 32 32 replicated"$'\n'
	cmds+="osd pool set datarootfs size $size --yes-i-really-mean-it"$'\n'
	cmds+="osd pool set datarootfs min_size $min_size"$'\n'
	cmds+="osd pool application enable datarootfs datarootfs"$'\n'
	if [[ $cephfs -eq 1 ]]; then
		cmds+="osd pool create cephfs_meta 16 16 replicated"$'\n'
		cmds+="osd pool create cephfs_data 16 16 replicated"$'\n'
		cmds+="fs new cephfs cephfs_meta cephfs_data"$'\n'
	fi
	check_daemons
	if ! out=$(ceph_cli <<<"$cmds" 2>&1) || grep -q '^Error' <<<"$out"; then
		echo "$out" >"$DIR/log/setup.out"
		check_daemons
		fail "cluster setup commands failed" "$DIR/log/setup.out"
	fi
	echo "$out" >"$DIR/log/setup.out"

	for ((i = 0; i < osds; i++)); do
		start "osd.$i" ceph-osd -c "$DIR/ceph.conf" -i "$i"
	done

	# Wait for readiness: every pool's PGs known to the mgr and active+clean,
	# and (with --cephfs) an active MDS.
	local deadline=$((SECONDS + TIMEOUT))
	while :; do
		check_daemons
		ready_state "$osds" "$cephfs"
		[[ $READY == ok ]] && break
		if ((SECONDS >= deadline)); then
			case $READY in
			osds) fail "OSDs not all up and in after ${TIMEOUT}s" "$DIR/log/osd.0.log" ;;
			mds) fail "MDS not active after ${TIMEOUT}s" "$DIR/log/mds.a.log" ;;
			pgs) fail "PGs not all active+clean after ${TIMEOUT}s" "$DIR/log/mgr.x.log" ;;
			*) fail "cluster not reachable after ${TIMEOUT}s" "$DIR/log/mon.a.log" ;;
			esac
		fi
		sleep 0.2
	done

	cat >"$DIR/env" <<EOF
CEPH_CONF=$DIR/ceph.conf
CEPH_KEYRING=$DIR/keyring
CEPH_MON=$ADDR:$PORT
EOF
	UP_DONE=1
	log "cluster up in $((SECONDS - t0))s ($osds OSDs$([[ $cephfs -eq 1 ]] && echo ", cephfs"))"
	cat "$DIR/env"
}

# --- down / status ------------------------------------------------------------

cmd_down() {
	[[ $# -eq 0 ]] || usage
	[[ -e $DIR ]] || return 0
	[[ -e $DIR/.dev-cluster ]] || die "$DIR is not a dev cluster directory; not touching it"
	local pids pid i
	mapfile -t pids < <(live_pids)
	kill_all || die "could not stop all daemons of $DIR"
	rm -rf -- "$DIR"
	# The daemons are dead now; they linger as zombies until init reaps them
	# (which can take seconds in some VMs/containers): wait a little so that
	# `ps` is clean when we return.
	for ((i = 0; i < 100; i++)); do
		local z=0
		for pid in "${pids[@]}"; do
			if [[ $(proc_state "$pid") == Z ]]; then z=1; fi
		done
		[[ $z -eq 0 ]] && break
		sleep 0.05
	done
}

cmd_status() {
	[[ $# -eq 0 ]] || usage
	if [[ ! -d $DIR || -z $(live_pids) ]]; then
		echo "not running"
		exit 1
	fi
	ceph_cli -s
}

# --- one daemon: kill / start; wait for health (fault tests) ----------------

# daemon_cmd NAME: the command line `up` started NAME with (without -f).
daemon_cmd() {
	local c=$DIR/ceph.conf
	case $1 in
	mon.a) echo "ceph-mon -c $c -i a" ;;
	mgr.x) echo "ceph-mgr -c $c -i x" ;;
	mds.a) echo "ceph-mds -c $c -i a" ;;
	osd.[0-9]*) echo "ceph-osd -c $c -i ${1#osd.}" ;;
	*) die "unknown daemon '$1' (mon.a, mgr.x, mds.a, osd.N)" ;;
	esac
}

# kill NAME [SIGNAL]: send SIGNAL (default KILL) to the recorded daemon NAME
# and wait (<= 60 s) until it has exited.  A memstore OSD loses its data
# on SIGKILL (it is RAM); on SIGTERM with osd_fast_shutdown off (`ceph
# config set osd osd_fast_shutdown false`) it saves it to DIR/osd.N first,
# so a later `start` finds it again.
cmd_kill() {
	[[ $# -ge 1 && $# -le 2 ]] || usage
	local name=$1 sig=${2:-KILL} pid i
	daemon_cmd "$name" >/dev/null
	[[ -f $DIR/pids/$name.pid ]] || die "$name: no such daemon in $DIR"
	pid=$(<"$DIR/pids/$name.pid")
	owned "$pid" || die "$name (pid $pid) is not running"
	kill -"$sig" "$pid" || die "cannot signal $name (pid $pid)"
	for ((i = 0; i < 1200; i++)); do
		owned "$pid" || return 0
		sleep 0.05
	done
	die "$name (pid $pid) still runs 60 s after SIG$sig"
}

# start NAME: start a daemon that `up` made (and that is not running) again
# on its data directory, with the same command line.
cmd_start() {
	[[ $# -eq 1 ]] || usage
	local name=$1 cmd pid
	cmd=$(daemon_cmd "$name")
	[[ -f $DIR/pids/$name.pid && -d $DIR/$name ]] || die "$name: no such daemon in $DIR"
	pid=$(<"$DIR/pids/$name.pid")
	if owned "$pid"; then die "$name is running already (pid $pid)"; fi
	STARTED=()
	# shellcheck disable=SC2086
	start "$name" $cmd
	sleep 0.2
	pid=$(<"$DIR/pids/$name.pid")
	owned "$pid" || die "$name exited at once: $(tail -n 5 "$(daemon_log "$name")")"
}

# wait [--timeout S]: until every OSD is up and in and every PG is
# active+clean (and the MDS active, if there is one).
cmd_wait() {
	local timeout=$TIMEOUT osds=0 cephfs=0 d deadline
	while [[ $# -gt 0 ]]; do
		case $1 in
		--timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
		*) usage ;;
		esac
	done
	for d in "$DIR"/osd.*/; do [[ -d $d ]] && osds=$((osds + 1)); done
	[[ -d $DIR/mds.a ]] && cephfs=1
	deadline=$((SECONDS + timeout))
	while :; do
		ready_state "$osds" "$cephfs"
		[[ $READY == ok ]] && return 0
		((SECONDS >= deadline)) && die "cluster not healthy after ${timeout}s (${READY:-no answer}); see $DIR/log/last-status.json"
		sleep 0.2
	done
}

[[ $# -ge 2 ]] || usage
CMD=$1
case $2 in
*[[:space:]\$\#\;\'\"\\]*) die "DIR must not contain whitespace or any of \$#;'\"\\" ;;
esac
DIR=$(realpath -m -- "$2")
shift 2
case $CMD in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
status) cmd_status "$@" ;;
kill) cmd_kill "$@" ;;
start) cmd_start "$@" ;;
wait) cmd_wait "$@" ;;
*) usage ;;
esac
