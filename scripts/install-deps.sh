#!/usr/bin/env bash
# Install every Debian package datarootfs needs to build, test, benchmark and
# run a throwaway local Ceph cluster.  Idempotent: quiet when all is there.
set -euo pipefail

PKGS=(
	build-essential pkg-config meson ninja-build clang-format
	libfuse3-dev fuse3
	librados-dev libxxhash-dev uuid-dev libssl-dev libcriterion-dev
	ceph-mon ceph-osd ceph-mgr ceph-mds ceph-common ceph-fuse
	fio gnuplot-nox attr psmisc procps iproute2 jq valgrind util-linux
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/datarootfs-apt.log 2>&1; then
	$SUDO apt-get update -q >>/tmp/datarootfs-apt.log 2>&1 || true
	if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/datarootfs-apt.log 2>&1; then
		echo "install-deps: apt-get failed; see /tmp/datarootfs-apt.log" >&2
		tail -n 20 /tmp/datarootfs-apt.log >&2
		exit 1
	fi
fi
# Ceph's packages install systemd units that may start default daemons on a
# real host; we never use them (the dev cluster runs its own).
echo "install-deps: done" >&2
