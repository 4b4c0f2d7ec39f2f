#!/usr/bin/env bash
# quickstart.sh - see datarootfs running: installs what is missing, builds,
# starts a throwaway Ceph cluster on loopback, makes a filesystem and mounts
# it on two mount points (two "web nodes"): ./mnt/node1 and ./mnt/node2,
# each with its own filedir read cache (./.quickstart/read-cache-nodeN).
#
#   scripts/quickstart.sh          bring everything up
#   scripts/quickstart.sh stop     unmount, stop daemons and the cluster
#
# State lives in ./.quickstart (cluster, daemon logs and PIDs).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
QS=$TOP/.quickstart
CLUSTER=$QS/cluster
BUILD=$TOP/build
NODES=(node1 node2)
PORT=${QUICKSTART_PORT:-40100}

stop() {
	local n mnt pid
	for n in "${NODES[@]}"; do
		mnt=$TOP/mnt/$n
		if grep -q " $mnt fuse" /proc/mounts; then
			fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
		fi
		if [ -f "$QS/$n.pid" ]; then
			pid=$(cat "$QS/$n.pid")
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
			kill -9 "$pid" 2>/dev/null || true
			rm -f "$QS/$n.pid"
		fi
	done
	scripts/dev-cluster.sh down "$CLUSTER" >/dev/null
	rm -rf "$QS" /dev/shm/datarootfs-quickstart-*
	echo "quickstart: stopped (no mounts, daemons or cluster left)"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
elif [ $# -gt 0 ]; then
	echo "usage: $0 [stop]" >&2
	exit 2
fi

if [ -f "$CLUSTER/env" ]; then
	echo "quickstart: already running (run '$0 stop' first)" >&2
	exit 1
fi

echo "quickstart: installing dependencies"
scripts/install-deps.sh
echo "quickstart: building"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
if ! out=$(ninja -C "$BUILD" 2>&1); then
	echo "$out" >&2
	echo "build failed" >&2
	exit 1
fi
echo "quickstart: starting a local Ceph cluster"
mkdir -p "$QS"
scripts/dev-cluster.sh up "$CLUSTER" --port "$PORT" >/dev/null
# shellcheck disable=SC1091
. "$CLUSTER/env"
"$BUILD/tools/datarootctl" -c "$CEPH_CONF" -n dataroot mkfs --root-mode 2777
for n in "${NODES[@]}"; do
	mnt=$TOP/mnt/$n
	mkdir -p "$mnt"
	nohup "$BUILD/daemon/datarootfs" -f \
		-o "conf=$CEPH_CONF,allow_other,localcache_path=/dev/shm/datarootfs-quickstart-$n,cache_path=$QS/read-cache-$n,cache_size=256M" \
		dataroot "$mnt" >"$QS/$n.log" 2>&1 &
	echo $! >"$QS/$n.pid"
	for _ in $(seq 200); do
		grep -q " $mnt fuse.datarootfs " /proc/mounts && break
		if ! kill -0 "$(cat "$QS/$n.pid")" 2>/dev/null; then
			echo "quickstart: mounting $n failed:" >&2
			cat "$QS/$n.log" >&2
			exit 1
		fi
		sleep 0.05
	done
done
cat <<MSG

datarootfs is mounted twice, as two web nodes of one Moodle cluster:
  $TOP/mnt/node1
  $TOP/mnt/node2

Try:
  mkdir -p mnt/node1/cache/demo && echo hello > mnt/node1/cache/demo/a
  cat mnt/node2/cache/demo/a
  $BUILD/tools/datarootctl -c $CEPH_CONF -n dataroot status

Each node keeps a read cache of filedir/ content in $QS/read-cache-nodeN
(256 MiB; hits and fills in mnt/nodeN/.datarootfs-stats.txt).

Daemon logs: $QS/node1.log, $QS/node2.log
Stop everything: scripts/quickstart.sh stop
MSG
