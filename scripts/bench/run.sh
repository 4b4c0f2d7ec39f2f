#!/usr/bin/env bash
# run.sh - datarootfs benchmarks against the references, on one throwaway
# local cluster, in one run (issue #7).
#
#   scripts/bench/run.sh [--quick] [--out DIR] [--port P] [--build DIR]
#                        [--sections LIST]
#
# Starts its own Ceph cluster (scripts/dev-cluster.sh up ... --cephfs, on
# the first free port from 44000, or --port), then mounts:
#   drfs    datarootfs, two daemons (node 1, node 2) on one filesystem
#   cephfs  CephFS through ceph-fuse, two clients (node 1, node 2)
#   tmpfs   a tmpfs (the local limit)
# and runs every workload (scripts/bench/jobs/*.fio, fsops, lockbench) on
# each, plus `rados bench` on the datarootfs pool (the backend's limit for
# sequential I/O, run right before datarootfs's streaming jobs), and
# counts the RADOS/MDS round trips of single calls (rtcount.py).  It
# prints one table and leaves, under one results folder
# (default scripts/bench/results/<date>-<mode>/):
#   table.md summary.json chart.png  the table, its data, the chart
#   raw/<target>/*.json              fio / fsops / lockbench / rados output
#   roundtrips-*.txt|json            round trips per call
#   machine.txt meta.json log.txt    where and how it ran
# --quick: small sizes (about 3.5 minutes); default (full): about 10 minutes
# on 2 cores.  --sections: comma list of cachedir,localcache,filedir,temp,
# metadata,locks,rados,roundtrips (default: all).
#
# On exit (success, failure, Ctrl-C, TERM) everything it mounted is
# unmounted, the processes it started are stopped (by PID) and the cluster
# is torn down.  Needs root (mounts, drop_caches), fio, gnuplot, gcc,
# libssl-dev (fsops hashes with libcrypto), jq, python3, ceph-fuse.
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
MODE=full
OUT=
PORT=
BUILD=$TOP/build
SECTIONS=cachedir,localcache,filedir,temp,metadata,locks,rados,roundtrips

usage() {
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [[ $# -gt 0 ]]; do
	case $1 in
	--quick) MODE=quick; shift ;;
	--out) [[ $# -ge 2 ]] || usage; OUT=$2; shift 2 ;;
	--port) [[ $# -ge 2 ]] || usage; PORT=$2; shift 2 ;;
	--build) [[ $# -ge 2 ]] || usage; BUILD=$2; shift 2 ;;
	--sections) [[ $# -ge 2 ]] || usage; SECTIONS=$2; shift 2 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "run.sh: must run as root (mounts, drop_caches)" >&2; exit 1; }
for tool in fio gnuplot gcc jq ceph-fuse rados python3; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

# --- sizes ---------------------------------------------------------------------
if [[ $MODE == quick ]]; then
	CD_JOBS=4 CD_FILES=100 CD_SECS=3
	LC_JOBS=2 LC_FILES=100 LC_SECS=3
	FD_FILES=8 FD_MAX=8m FD_SECS=3
	SEQ_SIZE=256m RAND_SIZE=64m RAND_SECS=5
	META_JOBS=8 META_FILES=100
	LOCK_N=300 HANDOFF_N=40
	RADOS_SECS=5
else
	CD_JOBS=4 CD_FILES=500 CD_SECS=10
	LC_JOBS=2 LC_FILES=300 LC_SECS=10
	FD_FILES=16 FD_MAX=50m FD_SECS=10
	SEQ_SIZE=1g RAND_SIZE=256m RAND_SECS=20
	META_JOBS=8 META_FILES=300
	LOCK_N=2000 HANDOFF_N=200
	RADOS_SECS=10
fi
STEP_TIMEOUT=900 # seconds any single benchmark step may take

STAMP=$(date +%Y%m%d-%H%M%S)
RES=${OUT:-$HERE/results/$STAMP-$MODE}
mkdir -p "$RES/raw"
RES=$(cd "$RES" && pwd)
WORK=$(mktemp -d /tmp/drfs-bench.XXXXXX)
chmod 755 "$WORK"
LCDIR=/dev/shm/$(basename "$WORK") # node-local localcache dirs (tmpfs)
CLUSTER=$WORK/cluster
LOG=$RES/log.txt
: >"$LOG"
DLOG=$RES/daemon-logs # datarootfs / ceph-fuse stderr, one file per mount point
mkdir -p "$DLOG"

say() { echo "bench: $*" | tee -a "$LOG" >&2; }

# --- process and mount bookkeeping -----------------------------------------------
declare -A MPID=() MKIND=() # mount point -> daemon pid / kind (drfs|cephfs|tmpfs)
CHILD=                      # the benchmark step running now (own session)
DAEMON_EXIT_ERRORS=()
CLUSTER_UP=0

wait_gone() { # PID SECONDS: true once PID has exited
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

umount_one() { # MNT
	local mnt=$1 pid=${MPID[$1]:-} kind=${MKIND[$1]:-}
	if mountpoint -q "$mnt" 2>/dev/null; then
		case $kind in
		drfs) fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null || true ;;
		cephfs) fusermount -u "$mnt" 2>/dev/null || fusermount -u -z "$mnt" 2>/dev/null || true ;;
		tmpfs) umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true ;;
		esac
	fi
	if [[ -n $pid ]]; then
		if ! wait_gone "$pid" 10; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
		fi
		local rc=0
		wait "$pid" 2>/dev/null || rc=$?
		if [[ $rc -ne 0 ]]; then
			echo "bench: warning: $kind daemon of $mnt (pid $pid) exited with status $rc at unmount" >>"$LOG"
			DAEMON_EXIT_ERRORS+=("$kind $(basename "$mnt") pid $pid: exit status $rc at unmount")
		fi
	fi
	unset "MPID[$mnt]" "MKIND[$mnt]"
}

cleanup() {
	local rc=$? m
	trap - ERR EXIT INT TERM HUP
	set +e
	if [[ -n $CHILD ]]; then
		kill -TERM -- "-$CHILD" 2>/dev/null
		wait_gone "$CHILD" 5 || kill -KILL -- "-$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	for m in "${!MPID[@]}"; do umount_one "$m"; done
	for m in "${!MKIND[@]}"; do umount_one "$m"; done
	if [[ $CLUSTER_UP -eq 1 || -d $CLUSTER ]]; then
		"$TOP/scripts/dev-cluster.sh" down "$CLUSTER" >>"$LOG" 2>&1 ||
			echo "bench: warning: cluster teardown failed (see $LOG)" >&2
	fi
	rm -rf "$WORK" "$LCDIR"
	if [[ $rc -ne 0 ]]; then
		echo "bench: FAILED (exit $rc); partial results and log in $RES" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# step OUTFILE CMD...: run one benchmark step in its own session (so that a
# signal stops it and all its children), stdout to OUTFILE, stderr to the log.
step() {
	local out=$1 rc=0
	shift
	echo "+ $*" >>"$LOG"
	setsid timeout "$STEP_TIMEOUT" "$@" >"$out" 2>>"$LOG" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=
	if [[ $rc -ne 0 ]]; then
		say "warning: step failed (exit $rc): $*"
	fi
	return 0
}

# --- cluster, mounts ---------------------------------------------------------------
free_port() {
	local p
	for ((p = 44000; p < 44400; p += 10)); do
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

mount_drfs() { # MNT
	local mnt=$1 pid i opts="conf=$DRFS_CONF"
	mkdir -p "$mnt"
	# Each "node" gets its own node-local localcache directory (when the
	# daemon has the localcache area), as two real web nodes would.
	if [[ $HAVE_LC -eq 1 ]]; then
		mkdir -p "$LCDIR/$(basename "$mnt")"
		opts+=",localcache_path=$LCDIR/$(basename "$mnt")"
	fi
	# and its own filedir read cache on local disk (when the daemon has it)
	if "$BIN/datarootfs" --help 2>&1 | grep -q cache_path=; then
		opts+=",cache_path=$WORK/rcache-$(basename "$mnt"),cache_size=2G"
	fi
	setsid "$BIN/datarootfs" -f -o "$opts" bench "$mnt" \
		>>"$DLOG/$(basename "$mnt").log" 2>&1 &
	pid=$!
	MPID[$mnt]=$pid
	MKIND[$mnt]=drfs
	for ((i = 0; i < 400; i++)); do
		grep -q " $mnt fuse.datarootfs " /proc/mounts && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$DLOG/$(basename "$mnt").log" >&2
	echo "bench: cannot mount datarootfs on $mnt" >&2
	return 1
}

mount_cephfs() { # MNT
	local mnt=$1 pid i
	mkdir -p "$mnt"
	setsid ceph-fuse -f -c "$CEPH_CONF" --client_fs cephfs "$mnt" \
		>>"$DLOG/$(basename "$mnt").log" 2>&1 &
	pid=$!
	MPID[$mnt]=$pid
	MKIND[$mnt]=cephfs
	for ((i = 0; i < 400; i++)); do
		grep -q " $mnt fuse.ceph-fuse " /proc/mounts && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$DLOG/$(basename "$mnt").log" >&2
	echo "bench: cannot mount ceph-fuse on $mnt" >&2
	return 1
}

mount_tmpfs() { # MNT
	mkdir -p "$1"
	mount -t tmpfs -o size=6g,mode=1777 drfs-bench-tmpfs "$1"
	MKIND[$1]=tmpfs
}

remount() { # MNT: a fresh client (empty client cache); also drops the page cache
	local mnt=$1 kind=${MKIND[$1]}
	[[ $kind == tmpfs ]] && return 0
	umount_one "$mnt"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	case $kind in
	drfs) mount_drfs "$mnt" ;;
	cephfs) mount_cephfs "$mnt" ;;
	esac
}

N1=$WORK/mnt/n1 N2=$WORK/mnt/n2 C1=$WORK/mnt/cf1 C2=$WORK/mnt/cf2 TM=$WORK/mnt/tmpfs
TARGETS=(drfs cephfs tmpfs)
root1() { case $1 in drfs) echo "$N1" ;; cephfs) echo "$C1" ;; tmpfs) echo "$TM" ;; esac; }
root2() { case $1 in drfs) echo "$N2" ;; cephfs) echo "$C2" ;; tmpfs) echo "$TM" ;; esac; }
has() { [[ ,$SECTIONS, == *,$1,* ]]; }

# --- build ---------------------------------------------------------------------------
say "mode $MODE, results in $RES"
if [[ ! -x $BUILD/daemon/datarootfs ]]; then
	[[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" >>"$LOG" 2>&1
	ninja -C "$BUILD" >>"$LOG" 2>&1 || { say "build failed (see $LOG)"; exit 1; }
fi
BIN=$RES/bin
mkdir -p "$BIN"
# Run copies: a rebuild of build/ during the run must not touch the mounted
# daemons (an executable rewritten in place makes its process SIGBUS).
cp "$BUILD/daemon/datarootfs" "$BUILD/tools/datarootctl" "$BIN/"
# What this build has: the localcache area (node-local tmpfs), the filedir
# policy.  Cluster-wide locks show in the lock results themselves.
HAVE_LC=0 HAVE_FD=0
"$BIN/datarootfs" --help 2>&1 | grep -q localcache_path && HAVE_LC=1
"$BIN/datarootfs" --help 2>&1 | grep -q filedir_name && HAVE_FD=1
gcc -O2 -Wall -o "$BIN/fsops" "$HERE/fsops.c" -lcrypto 2>>"$LOG"
gcc -O2 -Wall -o "$BIN/lockbench" "$HERE/lockbench.c" 2>>"$LOG"
gcc -O2 -Wall -o "$BIN/radosfloor" "$HERE/radosfloor.c" -lrados -lpthread 2>>"$LOG"

# --- machine --------------------------------------------------------------------------
{
	echo "date:    $(date -Is)"
	echo "host:    $(uname -n)"
	echo "cpu:     $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "ram:     $(free -g | awk '/^Mem:/ {print $2}') GiB"
	echo "kernel:  $(uname -r)"
	echo "os:      $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "ceph:    $(ceph --version)"
	echo "fio:     $(fio --version)"
	echo "datarootfs: $(sha256sum "$BIN/datarootfs" | cut -c1-16) built $(date -Is -r "$BUILD/daemon/datarootfs")"
	echo "libfuse: $(pkg-config --modversion fuse3 2>/dev/null || echo ?) (datarootfs), ceph-fuse uses libfuse2"
	echo "cluster: scripts/dev-cluster.sh: 1 mon, 1 mgr, 1 MDS, 3 memstore OSDs on loopback, pool datarootfs size 3 min_size 2, pg_num 32"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "other ceph daemons running on this machine at start: $(pgrep -c -x 'ceph-osd|ceph-mon|ceph-mgr|ceph-mds' || true)"
} >"$RES/machine.txt"
START=$SECONDS

# --- cluster and mounts -----------------------------------------------------------------
PORT=${PORT:-$(free_port)} || { say "no free port in 44000-44400"; exit 1; }
say "starting the cluster on port $PORT"
CLUSTER_UP=1
"$TOP/scripts/dev-cluster.sh" up "$CLUSTER" --port "$PORT" --cephfs >"$WORK/cluster.env" 2>>"$LOG"
# shellcheck disable=SC1091
. "$CLUSTER/env"
export CEPH_CONF
# The daemons get a copy of the conf with an admin socket, so rtcount.py can
# read their librados perf counters.
DRFS_CONF=$WORK/drfs.conf
cp "$CEPH_CONF" "$DRFS_CONF"
mkdir -p "$WORK/asok"
printf '\n[client.admin]\nadmin socket = %s/asok/drfs-$pid.asok\n' "$WORK" >>"$DRFS_CONF"
"$BIN/datarootctl" -c "$CEPH_CONF" -n bench mkfs --root-mode 2777 >>"$LOG" 2>&1
mount_drfs "$N1"
mount_drfs "$N2"
mount_cephfs "$C1"
mount_cephfs "$C2"
mount_tmpfs "$TM"
say "mounted: datarootfs x2, ceph-fuse x2, tmpfs (cluster up in $((SECONDS - START))s)"

raw() { mkdir -p "$RES/raw/$1" && echo "$RES/raw/$1/$2.json"; }

# --- cachedir ---------------------------------------------------------------------------
MUC=cache/cachestore_file/default_application/core_bench
if has cachedir; then
	for t in "${TARGETS[@]}"; do
		say "cachedir on $t"
		r1=$(root1 "$t")
		for op in create stat read renameover unlink; do
			step "$(raw "$t" "cachedir-$op")" "$BIN/fsops" "$op" -d "$r1" -p "$MUC" \
				-j "$CD_JOBS" -n "$CD_FILES" -t "$CD_SECS" -s 1k-16k -l "cachedir-$op"
		done
		# The mix: its own keys, populated first (not in the table), then
		# jobs alternate between the two nodes.
		step "$WORK/populate.json" "$BIN/fsops" create -d "$r1" -p "$MUC-mix" \
			-j "$CD_JOBS" -n "$CD_FILES" -s 1k-16k
		step "$(raw "$t" cachedir-mix)" "$BIN/fsops" mix -d "$r1,$(root2 "$t")" \
			-p "$MUC-mix" -j "$CD_JOBS" -n "$CD_FILES" -t "$CD_SECS" -s 1k-16k -l cachedir-mix
	done
fi

# --- localcache ---------------------------------------------------------------------------
if has localcache; then
	for t in "${TARGETS[@]}"; do
		say "localcache on $t"
		r1=$(root1 "$t")
		LCP=localcache/theme/1700000000/boost/pix
		step "$(raw "$t" localcache-create)" "$BIN/fsops" create -d "$r1" -p "$LCP" \
			-j "$LC_JOBS" -n "$LC_FILES" -s 1k-64k -l localcache-create
		step "$(raw "$t" localcache-read)" "$BIN/fsops" read -d "$r1" -p "$LCP" \
			-j "$LC_JOBS" -n "$LC_FILES" -t "$LC_SECS" -s 1k-64k -l localcache-read
	done
fi

# --- filedir --------------------------------------------------------------------------------
if has filedir; then
	for t in "${TARGETS[@]}"; do
		say "filedir on $t"
		r1=$(root1 "$t")
		r2=$(root2 "$t")
		rm -f "$WORK"/fdlist.*
		step "$(raw "$t" filedir-store)" "$BIN/fsops" store -d "$r2" -p filedir \
			-j 1 -n "$FD_FILES" -s "100k-$FD_MAX" -o "$WORK/fdlist" -l filedir-store
		list=$(sed "s|^|$r1/|" "$WORK"/fdlist.* | paste -sd:)
		remount "$r1"
		FILEDIR_LIST=$list FILEDIR_TIMEBASED=0 FILEDIR_RUNTIME=600 FILEDIR_JOB=filedir-read-cold \
			step "$(raw "$t" fio-filedir-read-cold)" fio --output-format=json "$HERE/jobs/filedir-read.fio"
		FILEDIR_LIST=$list FILEDIR_TIMEBASED=1 FILEDIR_RUNTIME=$FD_SECS FILEDIR_JOB=filedir-read-warm \
			step "$(raw "$t" fio-filedir-read-warm)" fio --output-format=json "$HERE/jobs/filedir-read.fio"
		rm -rf "${r1:?}/filedir"
	done
fi

# rados bench on the datarootfs pool: the backend's limit for the streaming
# jobs (16 1 MiB ops in flight), write then read, its objects removed after
rados_bench() {
	step "$(raw rados temp-seqwrite-1M)" rados -c "$CEPH_CONF" -p datarootfs bench "$RADOS_SECS" write \
		--no-cleanup -b 1M -t 16 --format json
	step "$(raw rados temp-seqread-1M)" rados -c "$CEPH_CONF" -p datarootfs bench "$RADOS_SECS" seq \
		-t 16 --format json
	step "$WORK/cleanup.out" rados -c "$CEPH_CONF" -p datarootfs cleanup
}

# --- settling ----------------------------------------------------------------------------------
# settle: the lock jobs measure latency in microseconds, the streaming
# jobs compare with rados bench; the purges the jobs before left behind
# (our reapers, CephFS's purge queue) are background work, not part of
# them.  Wait (at most 60 s) until every pool sees under 20 op/s for 3 s
# in a row; every target gets the same quiet (before temp and locks).
settle() {
	local quiet=0 i ops=?
	for i in $(seq 60); do
		ops=$(ceph -c "$CEPH_CONF" osd pool stats -f json 2>/dev/null |
			jq '[.[].client_io_rate | (.read_op_per_sec // 0) +
				(.write_op_per_sec // 0)] | add // 0' 2>/dev/null)
		if [ "${ops%.*}" -lt 20 ] 2>/dev/null; then
			quiet=$((quiet + 1))
			[ $quiet -ge 3 ] && { say "cluster quiet after $i s"; return 0; }
		else
			quiet=0
		fi
		sleep 1
	done
	say "cluster not quiet after 60 s ($ops op/s): measuring anyway"
}

# --- temp ------------------------------------------------------------------------------------
if has temp; then
	for t in "${TARGETS[@]}"; do
		say "temp on $t"
		r1=$(root1 "$t")
		mkdir -p "$r1/temp/backup"
		export FIO_DIR=$r1/temp/backup SEQ_SIZE RAND_SIZE RAND_RUNTIME=$RAND_SECS
		[[ $t == tmpfs ]] || settle
		# The reference for the streaming jobs, measured next to them:
		# on this machine the pool's speed moves by 2x over minutes
		# (memstore OSDs growing, the kernel reclaiming), so rados
		# bench at another moment of the run says little.  Its objects
		# are removed before our job writes.
		if [[ $t == drfs ]] && has rados; then
			say "rados bench (${RADOS_SECS}s write, then seq), next to the streaming jobs"
			rados_bench
			rados_done=1
		fi
		step "$(raw "$t" fio-temp-seqwrite)" fio --section=temp-seqwrite-1M \
			--output-format=json "$HERE/jobs/temp-seq.fio"
		remount "$r1"
		step "$(raw "$t" fio-temp-seqread)" fio --section=temp-seqread-1M \
			--output-format=json "$HERE/jobs/temp-seq.fio"
		rm -f "$r1/temp/backup/seq.bin"
		step "$(raw "$t" fio-temp-rand)" fio --output-format=json "$HERE/jobs/temp-rand.fio"
		rm -rf "${r1:?}/temp"
	done
fi

# --- metadata ---------------------------------------------------------------------------------
if has metadata; then
	for t in "${TARGETS[@]}"; do
		say "metadata on $t"
		r1=$(root1 "$t")
		dirs=
		for ((i = 0; i < META_JOBS; i++)); do
			mkdir -p "$r1/cache/metabench/d$i"
			dirs+="${dirs:+:}$r1/cache/metabench/d$i"
		done
		META_DIRS=$dirs META_JOBS=$META_JOBS META_FILES=$META_FILES \
			step "$(raw "$t" fio-metadata)" fio --output-format=json "$HERE/jobs/metadata.fio"
		rm -rf "${r1:?}/cache/metabench"
	done
fi

# --- locks ------------------------------------------------------------------------------------
if has locks; then
	settle
	for t in "${TARGETS[@]}"; do
		say "locks on $t"
		r1=$(root1 "$t")
		r2=$(root2 "$t")
		mkdir -p "$r1/lock/ab"
		: >"$r1/lock/ab/lockfile"
		step "$(raw "$t" lock-roundtrip)" "$BIN/lockbench" roundtrip "$r1/lock/ab/lockfile" -n "$LOCK_N"
		step "$(raw "$t" lock-handoff-2node)" "$BIN/lockbench" handoff \
			"$r1/lock/ab/lockfile" "$r2/lock/ab/lockfile" -n "$HANDOFF_N"
		if [[ $t != tmpfs ]]; then
			step "$(raw "$t" lock-handoff-1node)" "$BIN/lockbench" handoff \
				"$r1/lock/ab/lockfile" "$r1/lock/ab/lockfile" -n "$HANDOFF_N"
		fi
	done
	# the pool's own floor for a handoff between nodes: one replicated
	# write and one notify between two librados clients, no filesystem
	say "locks: the pool's floor (radosfloor)"
	step "$(raw rados lock-handoff-2node)" "$BIN/radosfloor" "$CEPH_CONF" datarootfs -n "$HANDOFF_N"
fi

# --- rados bench --------------------------------------------------------------------------------
if has rados && [[ -z ${rados_done:-} ]]; then
	settle
	say "rados bench (${RADOS_SECS}s write, then seq)"
	rados_bench
fi

# --- round trips per call ----------------------------------------------------------------------------
if has roundtrips; then
	say "round trips per call"
	asok=$(ls "$WORK/asok/drfs-${MPID[$N1]}.asok" 2>/dev/null || true)
	if [[ -S $asok ]]; then
		step "$RES/roundtrips-datarootfs.txt" python3 "$HERE/rtcount.py" "$asok" "$N1" \
			datarootfs "$RES/roundtrips-datarootfs.json"
	fi
	asok=$(ls "$(dirname "$CEPH_CONF")"/run/ceph-client.admin."${MPID[$C1]}".*.asok 2>/dev/null | head -1 || true)
	if [[ -n $asok && -S $asok ]]; then
		step "$RES/roundtrips-cephfs.txt" python3 "$HERE/rtcount.py" "$asok" "$C1" \
			"CephFS (ceph-fuse)" "$RES/roundtrips-cephfs.json"
	fi
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/machine.txt"
for e in "${DAEMON_EXIT_ERRORS[@]}"; do say "warning: $e"; done
echo "benchmark time: $((SECONDS - START)) s" >>"$RES/machine.txt"
jq -n --arg mode "$MODE" --arg date "$(date -Is)" --arg res "$RES" \
	--argjson lc "$HAVE_LC" --argjson fd "$HAVE_FD" \
	'{mode: $mode, date: $date, results: $res, localcache_policy: ($lc == 1),
	  filedir_policy: ($fd == 1)}' >"$RES/meta.json"
python3 "$HERE/report.py" "$RES" | tee "$RES/table.txt"
[[ -f $RES/roundtrips-datarootfs.txt ]] && cat "$RES/roundtrips-datarootfs.txt"
say "done in $((SECONDS - START)) s; results in $RES"
