#!/usr/bin/env bash
# t1030: a short soak.  Two nodes run the mixed workload of workload.py
# (filedir add/trash/unlink, MUC rename-over, appends, small and 4-8 MiB
# files, the flock'ed counter, re-reads on both nodes); the whole soak
# takes DRFS_SOAK_SECS seconds (default 60; DRFS_LONG=1: 1800).  Every
# SAMPLE seconds each daemon's RSS (VmRSS), open fds (/proc/PID/fd),
# threads and RADOS ops in flight (its admin socket's objecter queue) are
# sampled, with the workload's completed operations; the curve goes to
# soak.csv (DRFS_SOAK_CSV to keep it elsewhere; phase "idle": the idle
# measurements) and a few lines of it to the output.
# After a warm-up (a third of the run, at most 60 s):
#   - fds: never more than FD_SLACK above the warm-up maximum, and the
#     second half of the run no higher than the first half + 8 (a leak of
#     one fd per file or per request would break both at once);
#   - RSS under load: never more than RSS_SLACK_MB above the warm-up
#     maximum (the buffers are bounded).  Under load RSS follows the
#     buffers in use at the moment (write-back up to 8 MiB per busy file,
#     reads in flight, the 8 MiB files), so it is no trend: no check
#     compares one part of the run with another;
#   - RSS idle to idle: at the end of the warm-up both workloads are held
#     (workload.py --hold: every worker waits between two steps, nothing
#     open but the holder's fd, fsynced) and each daemon's idle RSS R1 is
#     the minimum of IDLE_SAMPLES samples 1 s apart (the trimmer,
#     daemon/main.c, hands freed pages back every 2 s, so an idle daemon's
#     RSS is close to its live memory); after the run, with the workloads
#     gone, the same gives R2.  R2 <= R1 + IDLE_SLACK_MB + the growth of
#     the bounded caches: memory kept per request or per open fails it,
#     buffer noise does not;
#   - no operation failed, none read wrong data, everything verifies at
#     the end through both nodes, the lock counter is exact.
# The hold and the idle measurements come out of the running time, not
# on top of it (the suite's time budget).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faultlib.sh"

SOAK=${DRFS_SOAK_SECS:-60}
SAMPLE=5
if [ "${DRFS_LONG:-0}" = 1 ]; then
	SOAK=${DRFS_SOAK_SECS:-1800}
	SAMPLE=15
fi
WARM=$((SOAK / 3 < 60 ? SOAK / 3 : 60))
FD_SLACK=40     # fuse worker threads come and go (clone_fd: one fd each)
RSS_SLACK_MB=56 # write-back buffers (8 MiB per busy file), reads in flight:
# clean runs went 18-38 MiB above the warm-up maximum
IDLE_SAMPLES=6  # 1 s apart: 5 s, two and a half trimmer periods
HOLD_WAIT=60    # for every worker to finish its step (a big file: ~5 s)
# IDLE_SLACK_MB: how much more an idle daemon may hold at the end than
# after the warm-up, beyond the growth of its caches (below).  It is
# noise, measured: on a clean daemon R2 - R1 was -14 to +14 MiB (22
# daemons): the stripe buffers kept for reuse (fs/data.c: up to 8 of
# 5 MiB, as many as were last returned) and heap pages that a few live
# blocks keep from the trimmer, among them the bucket arrays of the
# metadata cache and the inode table (3 MiB in all, calloc'ed, resident
# as they are touched).  Planted leaks per open: 16 KiB +29..+56 MiB (red),
# 8 KiB +23 and +38 MiB (red on one node of two), 2 KiB within the noise.
IDLE_SLACK_MB=${DRFS_IDLE_SLACK_MB:-24}
# The caches that grow with the files a node touches are bounded but may
# legitimately grow between R1 and R2: the metadata cache (fs/mdcache.c,
# at most 65536 inodes of 208 B and 262144 entries of 40 B + the name)
# and the inode table (daemon/nodes.c, what the kernel keeps: 200 B a
# node, 224 B more once read).  Full, the metadata cache would be ~40 MiB,
# more than the slack; a soak fills a fraction of it (about 1,600 inodes
# and 1,100 entries in 120 s) and the long one more, so their growth,
# counted from .datarootfs-stats.txt at R1 and R2, is allowed on top:
# B_INODE bytes per cached inode, B_ENTRY per entry, B_KNOWN per known
# inode.  A leak per request or per open is not in these counts.
B_INODE=208 B_ENTRY=112 B_KNOWN=424
# The final idle measurement is taken off the workloads' duration.
RUN=$((SOAK - IDLE_SAMPLES - 1))
[ "$RUN" -ge 1 ] || RUN=1 # (0 would be no deadline)
HOLD=$T_DIR/wl.hold
CSV=${DRFS_SOAK_CSV:-$T_DIR/soak.csv}

client_asok
mkfs_fs
A=$T_DIR/node1 B=$T_DIR/node2
mount_fs "$A" || exit 1
mount_fs "$B" || exit 1
THREADS=filedir=2,muc,append,small,lock,reader,xreader,big
wl_start a "$A" --threads "$THREADS" --big-mib 8 --pause 0.02 --big-pause 0.5 --duration "$RUN" --hold "$HOLD"
wl_start b "$B" --threads "$THREADS" --big-mib 8 --pause 0.02 --big-pause 0.5 --duration "$RUN" --hold "$HOLD"

# sample NODE PID T [idle]: one CSV line (idle: no admin socket query,
# which takes a CPU for a while)
sample() {
	local rss fds thr infl=-
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$2/status" 2>/dev/null)
	thr=$(awk '/^Threads:/ { print $2 }' "/proc/$2/status" 2>/dev/null)
	fds=$(ls "/proc/$2/fd" 2>/dev/null | wc -l)
	[ -n "${4:-}" ] || infl=$(inflight_ops "$2")
	echo "$3,$1,${rss:-0},$fds,${thr:-0},$infl,$(wl_get "$1" ok),${4:-run}"
}

# caches NODE MNT: the sizes of the caches that may grow (stats file)
caches() {
	awk '/^mdcache/ { for (i = 1; i <= NF; i++) if ($i ~ /^(inodes|entries)=/) c = c " cached_" $i }
		/^inodes/ { k = $2 }
		END { printf "known=%s%s", k, c }' "$2/.datarootfs-stats.txt" 2>/dev/null
}

# idle_rss: each daemon's minimum RSS over IDLE_SAMPLES samples 1 s apart
# (the workloads held or gone) into IDLE[a], IDLE[b]; the caches' sizes
# into CACHES[a], CACHES[b].
declare -A IDLE=() CACHES=()
idle_rss() {
	local i node line rss
	IDLE=([a]=0 [b]=0)
	for ((i = 0; i < IDLE_SAMPLES; i++)); do
		[ "$i" = 0 ] || sleep 1
		for node in a b; do
			line=$(sample "$node" "${PID[$node]}" $((SECONDS - start)) idle)
			echo "$line" >>"$CSV"
			rss=$(cut -d, -f3 <<<"$line")
			if [ "${IDLE[$node]}" = 0 ] || [ "$rss" -lt "${IDLE[$node]}" ]; then
				IDLE[$node]=$rss
			fi
		done
	done
	CACHES=([a]=$(caches a "$A") [b]=$(caches b "$B"))
}

# hold_all: hold both workloads until every worker waits (at most
# HOLD_WAIT s); fails with how many did.
hold_all() {
	local limit=$((SECONDS + HOLD_WAIT)) node n
	touch "$HOLD"
	while :; do
		n=0
		for node in a b; do
			[ "$(wl_get "$node" workers)" -gt 0 ] &&
				[ "$(wl_get "$node" held)" = "$(wl_get "$node" workers)" ] &&
				n=$((n + 1))
		done
		[ "$n" = 2 ] && touch "$HOLD.ok" && return 0
		if [ "$SECONDS" -ge "$limit" ]; then
			for node in a b; do
				echo "$node: $(wl_get "$node" held) of $(wl_get "$node" workers) workers held after $HOLD_WAIT s, in flight: $(jq -c .inflight "$WL_OUT/$node.progress" 2>/dev/null)"
			done
			return 1
		fi
		sleep 0.2
	done
}

echo "seconds,node,rss_kb,fds,threads,rados_inflight,ops_done,phase" >"$CSV"
start=$SECONDS
declare -A PID=([a]=$(daemon_pid "$A") [b]=$(daemon_pid "$B"))
R1=()
while [ $((SECONDS - start)) -lt "$RUN" ]; do
	t=$((SECONDS - start))
	sample a "${PID[a]}" "$t" >>"$CSV"
	sample b "${PID[b]}" "$t" >>"$CSV"
	if [ "$t" -ge "$WARM" ] && [ -z "${HELD:-}" ]; then
		HELD=$t
		ok "the workloads hold within $HOLD_WAIT s (at $t s)" hold_all
		if [ -e "$HOLD.ok" ]; then
			held=$((SECONDS - start))
			idle_rss
			R1=("${IDLE[a]}" "${IDLE[b]}") C1=("${CACHES[a]}" "${CACHES[b]}")
			REL=$((SECONDS - start))
			say "held at $t s: every worker waited after $((held - t)) s; released at $REL s"
		fi
		rm -f "$HOLD"
		continue
	fi
	sleep "$SAMPLE"
done
ok "the workloads end by themselves" wl_stop 120
t=$((SECONDS - start))
sample a "${PID[a]}" "$t" >>"$CSV"
sample b "${PID[b]}" "$t" >>"$CSV"
idle_rss
R2=("${IDLE[a]}" "${IDLE[b]}") C2=("${CACHES[a]}" "${CACHES[b]}")
t_end=$((SECONDS - start))

say "the curve ($CSV, every ${SAMPLE} s; a few lines, without the idle ones):"
n=$(grep -c ',run$' "$CSV")
grep -v ',idle$' "$CSV" | awk -F, -v n="$n" 'NR == 1 { print "#   " $0; next }
	{ i = NR - 1; if (i <= 2 || i > n - 2 || i % int(n / 8 + 1) == 0) print "#   " $0 }'

# check NODE: the bounds on one daemon's curve (the samples under load)
check_curve() {
	local node=$1 out
	out=$(awk -F, -v node="$node" -v warm="$WARM" -v end="$t" -v rel="${REL:-$WARM}" \
		-v fdslack="$FD_SLACK" -v rslack=$((RSS_SLACK_MB * 1024)) '
		$2 != node || $8 != "run" { next }
		$1 <= warm { if ($4 > fdw) fdw = $4; if ($3 > rssw) rssw = $3; next }
		{
			# the halves of the run after the hold (a slow hold on
			# a loaded machine must not leave the first one empty)
			if ($4 > fdmax) fdmax = $4
			if ($3 > rssmax) rssmax = $3
			if ($1 < rel) next
			if ($1 < rel + (end - rel) / 2) { n1++; if ($4 > fd1) fd1 = $4 }
			else { n2++; if ($4 > fd2) fd2 = $4 }
		}
		END {
			printf "warm-up: fds<=%d rss<=%d kB; after: fds max %d (after the hold at %d s: 1st half %d in %d samples, 2nd %d in %d), rss max %d kB\n", fdw, rssw, fdmax, rel, fd1, n1, fd2, n2, rssmax
			if (fdmax > fdw + fdslack) print "FAIL fds grew by " fdmax - fdw " after the warm-up"
			if (n1 < 1 || n2 < 1) print "FAIL too few samples after the hold for the trend: " n1 " and " n2
			else if (fd2 > fd1 + 8) print "FAIL fds still growing: 2nd half " fd2 " > 1st half " fd1 " + 8"
			if (rssmax > rssw + rslack) print "FAIL rss grew by " (rssmax - rssw) / 1024 " MiB above the warm-up maximum"
		}' "$CSV")
	say "$node: $(head -n 1 <<<"$out")"
	check_eq "$node: fds and RSS stay bounded after the warm-up ($WARM s; fds +$FD_SLACK, RSS +$RSS_SLACK_MB MiB)" \
		"" "$(grep FAIL <<<"$out")"
}
check_curve a
check_curve b

# cache_growth C1 C2: the bytes the caches may have grown by from the
# counts C1 to C2 (known=N cached_inodes=N cached_entries=N), at least 0
cache_growth() {
	awk -v c1="$1" -v c2="$2" -v bi="$B_INODE" -v be="$B_ENTRY" -v bk="$B_KNOWN" '
		function parse(s, a,   n, i, kv, f) {
			n = split(s, f, " ")
			for (i = 1; i <= n; i++) { split(f[i], kv, "="); a[kv[1]] = kv[2] + 0 }
		}
		BEGIN {
			parse(c1, x); parse(c2, y)
			g = (y["cached_inodes"] - x["cached_inodes"]) * bi
			g += (y["cached_entries"] - x["cached_entries"]) * be
			g += (y["known"] - x["known"]) * bk
			print (g > 0 ? int(g) : 0)
		}'
}

# check_idle I NODE: R2 <= R1 + IDLE_SLACK_MB + the caches' growth
check_idle() {
	local i=$1 node=$2 r1=${R1[$1]:-} r2=${R2[$1]} c1=${C1[$1]:-} c2=${C2[$1]:-} res= grow limit
	grow=$(cache_growth "$c1" "$c2")
	grow=$((${grow:-0} / 1024))
	say "$node: idle RSS R1 ${r1:-?} kB ($c1) after the warm-up, R2 $r2 kB ($c2) at the end${r1:+, R2 - R1 = $(((r2 - r1) / 1024)) MiB}; allowed: $IDLE_SLACK_MB MiB + $grow kB (the caches' growth)"
	if [ -z "$r1" ] || [ "$r1" = 0 ] || [ "$r2" = 0 ] || [ -z "$c1" ] || [ -z "$c2" ]; then
		res="no idle measurement (R1 '$r1' kB, '$c1'; R2 '$r2' kB, '$c2')"
	else
		limit=$((r1 + IDLE_SLACK_MB * 1024 + grow))
		[ "$r2" -le "$limit" ] ||
			res="idle RSS grew by $(((r2 - r1) / 1024)) MiB: R2 $r2 kB > R1 $r1 kB + $IDLE_SLACK_MB MiB + $grow kB (caches)"
	fi
	check_eq "$node: idle RSS at the end at most $IDLE_SLACK_MB MiB (+ the caches' growth) above the idle RSS after the warm-up" "" "$res"
}
check_idle 0 a
check_idle 1 b

check_eq "no operation failed" 0 "$(wl_sum errors)"
[ "$(wl_sum errors)" = 0 ] || wl_errors | sed 's/^/#   /'
check_eq "no read returned wrong data" 0 "$(wl_sum bad)"
say "workload: $(wl_sum attempted) operations attempted, $(wl_sum ok) completed, $(wl_sum errors) errors, $(($(wl_sum bytes_written) / 1000000)) MB written, $(($(wl_sum bytes_verified) / 1000000)) MB re-read and verified, longest operation $(cat "$WL_OUT"/*.progress | jq -s 'map(.max_latency) | max') s, $t_end s"
for m in "$A" "$B"; do
	wl_verify "$m"
	check_eq "$(basename "$m"): every acknowledged file verifies, the lock counter is exact" \
		0 "$(vget problems)"
	vproblems
	say "$(basename "$m"): $(vget verified_files) files, $(vget verified_bytes) bytes verified; lock counter $(vget lock_counter) for $(vget lock_increments) increments"
done
umount_fs "$A"
umount_fs "$B"
check_daemon_logs
done_testing
