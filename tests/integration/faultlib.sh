# faultlib.sh - helpers for the cluster-side fault tests (t10NN-*.sh),
# sourced after lib.sh.
#
# A test that kills OSDs or monitors must not touch the shared cluster of
# scripts/test.sh (the tests after it use it): private_cluster starts its
# own (scripts/dev-cluster.sh, a free mon port in 44000-45799, directory
# inside the test's scratch dir) and points CEPH_CONF at it.  The EXIT trap
# stops the workloads, then the daemons, then that cluster, then does
# lib.sh's cleanup, pass or fail.
#
# Workloads: tests/integration/workload.py, one process per node, PIDs
# recorded; wl_* read its progress counters.

DEV_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)/dev-cluster.sh
WORKLOAD=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/workload.py
CL_DIR=
declare -A WL_PIDS=()
WL_OUT=$T_DIR/wl
WL_STOP=$T_DIR/wl.stop
mkdir -p "$WL_OUT"

# private_cluster [dev-cluster up options]: start the test's own cluster.
private_cluster() {
	local port i out
	CL_DIR=$T_DIR/cluster
	for i in 1 2 3 4 5; do
		port=$((44000 + RANDOM % 1800))
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && continue
		if out=$("$DEV_CLUSTER" up "$CL_DIR" --port "$port" "$@" 2>"$T_DIR/cluster-up.err"); then
			eval "$(grep '^CEPH_CONF=' <<<"$out")"
			export CEPH_CONF
			client_asok
			# recover at SSD speed: memstore OSDs count as HDDs,
			# which sleep 0.1 s per recovery op (thousands of
			# small objects: many minutes)
			ceph_ <<-EOF >/dev/null 2>&1
				config set osd osd_recovery_sleep_hdd 0
				config set osd osd_recovery_max_active_hdd 8
				config set osd osd_max_backfills 4
			EOF
			say "private cluster on port $port ($CL_DIR)"
			return 0
		fi
		grep -q 'already in use\|is taken' "$T_DIR/cluster-up.err" || break
	done
	echo "# private cluster did not start:"
	sed 's/^/#   /' "$T_DIR/cluster-up.err" | tail -n 20
	return 1
}

# client_asok: from now on every client of the test (the daemons too) gets
# an admin socket in $ASOK_DIR, so the test can see its in-flight RADOS
# ops: CEPH_CONF becomes a copy of the cluster's with that setting.
ASOK_DIR=$T_DIR/asok
client_asok() {
	mkdir -p "$ASOK_DIR"
	[ "$CEPH_CONF" = "$T_DIR/ceph.conf" ] || cp "$CEPH_CONF" "$T_DIR/ceph.conf"
	printf '\n[client]\nadmin socket = %s/$name.$pid.asok\n' "$ASOK_DIR" \
		>>"$T_DIR/ceph.conf"
	export CEPH_CONF=$T_DIR/ceph.conf
}

# cl SUBCOMMAND ARGS...: dev-cluster.sh on the private cluster
# (kill NAME [SIG], start NAME, wait [--timeout S], status).
cl() {
	local c=$1
	shift
	"$DEV_CLUSTER" "$c" "$CL_DIR" "$@"
}

ceph_() { timeout 30 ceph -c "$CEPH_CONF" --connect-timeout 20 "$@"; }

# wl_start NODE MNT [workload.py run options]: start a workload on MNT.
wl_start() {
	local node=$1 mnt=$2
	shift 2
	python3 "$WORKLOAD" run --mnt "$mnt" --node "$node" --out "$WL_OUT" \
		--stop "$WL_STOP" "$@" >>"$T_DIR/wl.$node.log" 2>&1 &
	WL_PIDS[$node]=$!
}

# wl_stop [SECONDS]: ask every workload to stop, wait for them (at most
# SECONDS, default 120, then SIGKILL).  Returns 1 if one had to be killed.
wl_stop() {
	local limit=${1:-120} node pid rc=0 i
	touch "$WL_STOP"
	for node in "${!WL_PIDS[@]}"; do
		pid=${WL_PIDS[$node]}
		for ((i = 0; i < limit * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "workload $node did not stop within $limit s: killed"
			kill -9 "$pid" 2>/dev/null
			rc=1
		fi
		wait "$pid" 2>/dev/null
		unset "WL_PIDS[$node]"
	done
	return $rc
}

# wl_get NODE KEY: a counter from NODE's progress file.
wl_get() {
	jq -r ".$2" "$WL_OUT/$1.progress" 2>/dev/null || echo 0
}

# wl_sum KEY: a counter summed over every node's progress file.
wl_sum() {
	cat "$WL_OUT"/*.progress 2>/dev/null | jq -s "map(.$1) | add // 0"
}

# wl_wait_ops N [SECONDS]: until the nodes together completed N more
# operations than now (default limit 60 s); prints the seconds it took.
wl_wait_ops() {
	local want start=$SECONDS limit=${2:-60}
	want=$(($(wl_sum ok) + $1))
	while [ "$(wl_sum ok)" -lt "$want" ]; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			echo timeout
			return 1
		fi
		sleep 0.2
	done
	echo $((SECONDS - start))
}

# wl_errors: the error samples of every node (for failure output).
wl_errors() {
	cat "$WL_OUT"/*.progress 2>/dev/null | jq -r '.samples[]' | head -n 10
}

# wl_verify MNT [--written]: verify every manifest through MNT; $V holds
# the output.
wl_verify() {
	local mnt=$1
	shift
	V=$(python3 "$WORKLOAD" verify --mnt "$mnt" --out "$WL_OUT" "$@" 2>&1)
}
vget() { awk -v k="$1" '$1 == k { print $2 }' <<<"$V"; }
vproblems() { grep '^problem ' <<<"$V" | sed 's/^problem /#   /'; }

# inflight_ops PID: RADOS ops the client PID has in flight (its objecter
# queue, from its admin socket), "?" when it does not answer.
inflight_ops() {
	local n
	n=$(timeout 5 ceph --admin-daemon "$ASOK_DIR/client.admin.$1.asok" \
		objecter_requests 2>/dev/null | jq '.ops | length' 2>/dev/null)
	echo "${n:-?}"
}

# daemon_pid MNT: the PID of the daemon serving MNT.
daemon_pid() { echo "${T_PIDS[$1]:-}"; }

f_cleanup() {
	local node mnt pid
	trap - EXIT
	touch "$WL_STOP"
	for node in "${!WL_PIDS[@]}"; do
		kill -9 "${WL_PIDS[$node]}" 2>/dev/null
		wait "${WL_PIDS[$node]}" 2>/dev/null
	done
	# The cluster may be (partly) down, and a daemon's last flush then
	# blocks: unmount, give each daemon 5 s, then SIGKILL it.
	for mnt in "${!T_PIDS[@]}"; do
		pid=${T_PIDS[$mnt]}
		if ! kill -0 "$pid" 2>/dev/null; then
			continue
		fi
		fusermount3 -u "$mnt" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		fusermount3 -u -z "$mnt" 2>/dev/null
		unset "T_PIDS[$mnt]"
	done
	if [ -n "${DRFS_KEEP:-}" ]; then # keep the logs for a post-mortem
		mkdir -p "$DRFS_KEEP/$T_NAME"
		cp -r "$T_DIR"/*.log "$T_DIR"/*.csv "$WL_OUT" "$DRFS_KEEP/$T_NAME/" 2>/dev/null
		[ -n "$CL_DIR" ] && cp -r "$CL_DIR/log" "$DRFS_KEEP/$T_NAME/cluster-log" 2>/dev/null
	fi
	[ -n "$CL_DIR" ] && "$DEV_CLUSTER" down "$CL_DIR" >/dev/null 2>&1
	t_cleanup
}
trap f_cleanup EXIT
