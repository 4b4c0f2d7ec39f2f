#!/usr/bin/env bash
# check-daemon-layers.sh: the daemon's files call each other in layers,
# never in a cycle (issue #12; the layers are listed in daemon/daemon.h).
#
#   check-daemon-layers.sh [DIR]     check DIR (default: daemon/ of this tree)
#   check-daemon-layers.sh --self-test
#   EDGES=1 check-daemon-layers.sh [DIR]   also print every edge and why
#
# A unit is a file's name without .c/.h: x.c and its header x.h are one
# unit; a header without a .c (daemon.h: shared types) is a unit of its
# own.  Unit A depends on unit B when a file of A
#   - includes "B.h", or
#   - names a function or variable that B.c defines with external linkage
#     (comments and strings are ignored; static definitions are private).
# The second rule catches a call whose prototype came from anywhere else
# (a local declaration, or a header of another unit).  The check fails
# when the graph has a cycle, printing the units on it and the edges
# between them, each with the include or the name that makes it.
#
# --self-test runs the check on small trees: one without a cycle (it must
# pass), one with a cycle of calls and one with a cycle of includes (they
# must fail), so that a broken check cannot pass silently.
set -Eeuo pipefail

PROG=check-daemon-layers
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# strip FILE: FILE without comments, and with every string and character
# literal emptied (one pass, so that a "//" in a string is no comment).
read -r -d '' STRIP_PL <<'PL' || true
s{(/\*.*?\*/)|(//[^\n]*)|("(?:\\.|[^"\\\n])*")|('(?:\\.|[^'\\\n])*')}
 {defined $1 ? " " : defined $2 ? "" : defined $3 ? '""' : "''"}gse;
PL
strip() {
	perl -0777 -pe "$STRIP_PL" "$1"
}

# defs FILE: the identifiers FILE defines with external linkage: functions
# (a name, its parameters, then a body) and initialized variables, both
# starting in column 0 and not static, whose name is on the first line.
# (Uninitialized globals are not seen: the daemon has none.)
read -r -d '' DEFS_PL <<'PL' || true
while (/^(?!static\b|extern\b|typedef\b|\#)[A-Za-z_][^;{}()=:\n]*?
	\b([A-Za-z_]\w*)\s*
	(?:\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)\s*\{|(?:\[[^\]]*\])?\s*=)/mgx) {
	print "$1\n";
}
PL
defs() {
	strip "$1" | perl -0777 -ne "$DEFS_PL" | sort -u
}

# idents FILE: every identifier FILE names.
idents() {
	strip "$1" | grep -oE '\b[A-Za-z_][A-Za-z0-9_]*\b' | sort -u
}

# includes FILE: the quoted headers FILE includes.
includes() {
	sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$1" | sort -u
}

# check DIR: 0 if the units of DIR form no cycle, 1 (and why) if they do.
check() {
	local dir=$1 tmp f u h v sym
	local -A owner=()

	tmp=$(mktemp -d -p "$SCRATCH")
	shopt -s nullglob
	local files=("$dir"/*.c "$dir"/*.h)
	shopt -u nullglob
	if ((${#files[@]} == 0)); then
		echo "$PROG: no .c or .h files in $dir" >&2
		return 2
	fi
	for f in "$dir"/*.c; do
		u=$(basename "$f" .c)
		for sym in $(defs "$f"); do
			if [[ -n ${owner[$sym]:-} && ${owner[$sym]} != "$u" ]]; then
				echo "$PROG: $sym defined in ${owner[$sym]}.c and $u.c" >&2
				return 1
			fi
			owner[$sym]=$u
		done
	done
	: >"$tmp/edges"
	for f in "${files[@]}"; do
		u=${f##*/}
		u=${u%.[ch]}
		echo "$u $u" >>"$tmp/edges" # every unit appears, even alone
		for h in $(includes "$f"); do
			[[ -f $dir/$h ]] || continue # a system or fs/ header
			v=${h%.h}
			[[ $v == "$u" ]] || echo "$u $v include ${f##*/} -> $h" >>"$tmp/edges"
		done
		for sym in $(idents "$f"); do
			v=${owner[$sym]:-}
			[[ -n $v && $v != "$u" ]] || continue
			echo "$u $v call ${f##*/} -> $sym ($v.c)" >>"$tmp/edges"
		done
	done
	if [[ ${EDGES:-} ]]; then
		awk 'NF > 2' "$tmp/edges"
	fi
	if ! cut -d' ' -f1,2 "$tmp/edges" | tsort >"$tmp/order" 2>"$tmp/loop"; then
		echo "$PROG: FAIL: the files of $dir call each other in a cycle;" \
			"units on it:" >&2
		local units
		units=$(sed -n 's/^tsort: //p' "$tmp/loop" | grep -v ':' | sort -u)
		sed 's/^/  /' <<<"$units" >&2
		echo "$PROG: edges between them (a cycle runs along some):" >&2
		while read -r a b rest; do
			[[ -n $rest ]] || continue
			grep -qxF "$a" <<<"$units" && grep -qxF "$b" <<<"$units" &&
				echo "  $a -> $b: $rest" >&2
		done <"$tmp/edges"
		return 1
	fi
	echo "$PROG: ok: no cycle among $(wc -l <"$tmp/order") units of $dir" \
		"(top first: $(tr '\n' ' ' <"$tmp/order"))"
	return 0
}

self_test() {
	local t ret=0

	t=$(mktemp -d -p "$SCRATCH")
	mkdir "$t/ok" "$t/cycle"
	# ok: hi.c -> lo.c, by include and by call; a comment naming hi_run
	# in lo.c is no call, nor is a string, nor a static function
	cat >"$t/ok/lo.h" <<'EOF'
int lo_get(void);
EOF
	cat >"$t/ok/lo.c" <<'EOF'
#include "lo.h"
/* called by hi_run */
static int helper(void) { return 1; }
int lo_get(void)
{
	return helper() + sizeof("hi_run");
}
EOF
	cat >"$t/ok/hi.c" <<'EOF'
#include "lo.h"
int hi_run(int x)
{
	return lo_get() + x;
}
EOF
	# cycle: lo.c calls back into hi.c through a local prototype
	cp "$t/ok/lo.h" "$t/ok/hi.c" "$t/cycle/"
	cat >"$t/cycle/lo.c" <<'EOF'
#include "lo.h"
int hi_run(int x);
int lo_get(void)
{
	return hi_run(0);
}
EOF
	# include cycle: lo.c includes hi.h, hi.c includes lo.h
	mkdir "$t/incl"
	cp "$t/ok/lo.h" "$t/ok/hi.c" "$t/incl/"
	echo 'int hi_run(int x);' >"$t/incl/hi.h"
	printf '#include "hi.h"\n' | cat - "$t/ok/lo.c" >"$t/incl/lo.c"
	if ! check "$t/ok"; then
		echo "$PROG: self-test FAIL: a tree without a cycle was refused" >&2
		ret=1
	fi
	if check "$t/cycle" 2>"$t/err"; then
		echo "$PROG: self-test FAIL: a cycle (lo.c -> hi_run) passed" >&2
		ret=1
	elif ! grep -q 'lo -> hi: call lo.c -> hi_run' "$t/err"; then
		echo "$PROG: self-test FAIL: the cycle was not explained:" >&2
		cat "$t/err" >&2
		ret=1
	fi
	if check "$t/incl" 2>"$t/err"; then
		echo "$PROG: self-test FAIL: a cycle (lo.c -> hi.h) passed" >&2
		ret=1
	elif ! grep -q 'lo -> hi: include lo.c -> hi.h' "$t/err"; then
		echo "$PROG: self-test FAIL: the cycle was not explained:" >&2
		cat "$t/err" >&2
		ret=1
	fi
	((ret == 0)) && echo "$PROG: self-test ok"
	return $ret
}

case ${1:-} in
--self-test) self_test ;;
-h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0" ;;
*) check "${1:-$(cd "$(dirname "$0")/.." && pwd)/daemon}" ;;
esac
