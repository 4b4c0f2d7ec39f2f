#!/usr/bin/env bash
# t0660: bad input for every datarootctl command.  Wrong arguments, a
# missing pool or filesystem, no cluster, wrong credentials, a filesystem
# of a newer format: each prints one clear line on stderr (an argument
# error adds the usage), nothing on stdout, exits with the documented code
# (2 usage, 1 failure; fsck: 16 usage, 8 operational error), gives up in
# bounded time, and changes nothing: the filesystem holds things each
# command would change (cache/ and temp/ files, a stale rename intent) and
# every object is compared before and after.
. "$(dirname "$0")/lib.sh"
R() { rados -c "$CEPH_CONF" -p datarootfs -N "$T_FS" "$@"; }

# state: every object of the filesystem with its version (raised by every
# write) and size, for "nothing changed".
state() { "$DRFS_BUILD/tests/objversions" "$CEPH_CONF" datarootfs "$T_FS" | sort; }

# bad CODE PATTERN DESC ARGS...: datarootctl ARGS exits CODE; the first
# line on stderr matches PATTERN; any further lines are the usage (they
# start with a "usage:" line); nothing on stdout.
bad() {
	local code=$1 pat=$2 desc=$3 rc got rest
	shift 3
	"$DATAROOTCTL" "$@" >"$T_DIR/o" 2>"$T_DIR/e"
	rc=$?
	got="exit $rc"
	[ -s "$T_DIR/o" ] && got+=", output on stdout"
	head -n 1 "$T_DIR/e" | grep -qE -- "$pat" ||
		got+=", first stderr line does not match '$pat'"
	rest=$(tail -n +2 "$T_DIR/e" | head -n 1)
	[ -z "$rest" ] || [[ $rest == usage:* ]] ||
		got+=", more on stderr than the usage"
	check_eq "$desc" "exit $code" "$got"
	[ "$got" = "exit $code" ] || sed 's/^/#   stderr: /' "$T_DIR/e"
}

# one: like bad, but exactly one line on stderr (no usage)
one() {
	bad "$@"
	T_CHECKS=$((T_CHECKS + 1))
	if [ "$(wc -l <"$T_DIR/e")" = 1 ]; then
		echo "ok $T_CHECKS - $3: one line"
	else
		echo "not ok $T_CHECKS - $3: one line"
		sed 's/^/#   stderr: /' "$T_DIR/e"
		T_FAILS=$((T_FAILS + 1))
	fi
}

G=(-c "$CEPH_CONF" -n "$T_FS")

# --- a filesystem with something for every command to change ---
mkfs_fs
M=$T_DIR/node1
DRFS_FAULT=rename-after-dst mount_fs "$M" || exit 1
mkdir -p "$M/cache/js" "$M/temp/old" "$M/a/b" "$M/c"
echo js >"$M/cache/js/f.js"
echo old >"$M/temp/old/f"
touch -d '3 days ago' "$M/temp/old/f" "$M/temp/old"
echo moved >"$M/a/b/m"
mv "$M/a/b/m" "$M/c/m" 2>/dev/null # the daemon dies half-way: an intent
crash_fs "$M"
ok "setup: the state of the objects can be read" test -n "$(state)"
ok "setup: a stale rename intent is there" bash -c "[ -n \"\$(rados -c '$CEPH_CONF' -p datarootfs -N '$T_FS' listomapkeys intents)\" ]"
before=$(state)
pools_before=$(rados -c "$CEPH_CONF" lspools | sort)

# --- argument errors: refused before the cluster is contacted ---
start=$SECONDS
bad 2 'no command given' "no command: exit 2" "${G[@]}"
bad 2 "unknown command 'bogus'" "unknown command: exit 2" "${G[@]}" bogus
bad 2 "unknown option '--bogus'" "unknown global option: exit 2" "${G[@]}" --bogus status
bad 2 "option '-t' needs a value" "global option without its value: exit 2" "${G[@]}" -t
bad 2 "bad timeout '5x'" "bad --timeout: exit 2" "${G[@]}" -t 5x status
bad 16 "bad timeout '0'" "bad --timeout before fsck: fsck's usage code 16" "${G[@]}" -t 0 fsck
bad 16 "unknown option '--bogus'" "unknown global option before fsck: 16" "${G[@]}" --bogus fsck
bad 2 "unknown option '--bogus'" "mkfs: unknown option: exit 2" "${G[@]}" mkfs --bogus
bad 2 "option '--root-mode' needs a value" "mkfs: --root-mode without a value: exit 2" "${G[@]}" mkfs --root-mode
bad 2 "bad mode '9'" "mkfs: bad mode: exit 2" "${G[@]}" mkfs --root-mode 9
bad 2 "bad mode ''" "mkfs: empty mode: exit 2" "${G[@]}" mkfs --root-mode ''
bad 2 "option '--force' takes no value" "mkfs: --force=yes: exit 2" "${G[@]}" mkfs --force=yes
bad 2 "unexpected argument 'x'" "mkfs: extra argument: exit 2" "${G[@]}" mkfs --force x
bad 2 "unknown option '--bogus'" "status: unknown option: exit 2" "${G[@]}" status --bogus
bad 2 "unexpected argument 'extra'" "status: extra argument: exit 2" "${G[@]}" status --json extra
bad 16 "unknown option '--bogus'" "fsck: unknown option: exit 16" "${G[@]}" fsck --bogus
bad 16 "unknown option '-x'" "fsck: unknown short option in a group: exit 16" "${G[@]}" fsck -yx
bad 16 "option '--filedir-name' needs a value" "fsck: --filedir-name without a value: 16" "${G[@]}" fsck --filedir-name
bad 16 "must be one name" "fsck: --filedir-name with a slash: 16" "${G[@]}" fsck --filedir-name a/b
bad 16 "unexpected argument 'now'" "fsck --repair with an extra argument: 16" "${G[@]}" fsck --repair now
bad 2 'nothing to purge' "purge: no area: exit 2" "${G[@]}" purge --dry-run
bad 2 "unknown option '--bogus'" "purge: unknown option: exit 2" "${G[@]}" purge --cache --bogus
bad 2 "option '--older-than' needs a value" "purge: --older-than without a value: exit 2" "${G[@]}" purge --temp --older-than
bad 2 'needs --older-than' "purge: --temp without --older-than: exit 2" "${G[@]}" purge --temp
bad 2 "bad duration '3x'" "purge: bad duration: exit 2" "${G[@]}" purge --temp --older-than 3x
bad 2 "bad duration '-1d'" "purge: negative duration: exit 2" "${G[@]}" purge --temp --older-than -1d
bad 2 "bad duration '99999999999999d'" "purge: duration that overflows: exit 2" "${G[@]}" purge --temp --older-than 99999999999999d
bad 2 'applies to --temp only' "purge: --cache with --older-than (conflict): exit 2" "${G[@]}" purge --cache --older-than 1d
bad 2 "unexpected argument 'temp'" "purge: extra argument: exit 2" "${G[@]}" purge --cache temp
bad 2 "bad --area 'nosuch=x'" "mkfs: --area of an unknown kind: exit 2" "${G[@]}" mkfs --force --area nosuch=x
bad 2 "bad --area 'filedir=a/b'" "mkfs: --area name with a slash: exit 2" "${G[@]}" mkfs --force --area filedir=a/b
bad 2 "option '--area' needs a value" "mkfs: --area without a value: exit 2" "${G[@]}" mkfs --area
bad 2 "unknown option '--all'" "recover: unknown option: exit 2" "${G[@]}" recover --all
bad 2 "unexpected argument 'now'" "recover: extra argument: exit 2" "${G[@]}" recover now
ok "argument errors take no time (the cluster is not contacted)" test $((SECONDS - start)) -le 5
after=$(state)
check_eq "argument errors changed nothing" "$before" "$after"
before=$after

# --- a missing pool, a missing filesystem ---
for cmd in mkfs status fsck "purge --cache" recover; do
	code=1
	[ "$cmd" = fsck ] && code=8
	# shellcheck disable=SC2086
	one $code "pool 'nosuchpool' does not exist" "$cmd: missing pool: exit $code" \
		-c "$CEPH_CONF" -p nosuchpool -n "$T_FS" $cmd
done
check_eq "missing pool: no pool was made" "$pools_before" "$(rados -c "$CEPH_CONF" lspools | sort)"
for cmd in status fsck "fsck --repair" "purge --cache" "purge --localcache" recover; do
	code=1
	[ "${cmd%% *}" = fsck ] && code=8
	# shellcheck disable=SC2086
	one $code "no datarootfs filesystem 'nosuchfs'.*datarootctl mkfs" \
		"$cmd: missing filesystem: exit $code" -c "$CEPH_CONF" -n nosuchfs $cmd
done
check_eq "missing filesystem: nothing was made in its namespace" "" \
	"$(rados -c "$CEPH_CONF" -p datarootfs -N nosuchfs ls)"

# --- no cluster: a ceph.conf naming a port nobody listens on ---
port=44199
while ss -ltn 2>/dev/null | grep -q ":$port "; do port=$((port + 1)); done
sed "s/^mon host = .*/mon host = [v2:127.0.0.1:$port]/" "$CEPH_CONF" >"$T_DIR/dead.conf"
for cmd in mkfs status fsck "purge --localcache" recover; do
	code=1
	[ "$cmd" = fsck ] && code=8
	start=$SECONDS
	# shellcheck disable=SC2086
	one $code "cannot reach the Ceph monitors at .*127\.0\.0\.1:$port.* within 2 s" \
		"$cmd: no cluster: exit $code" -c "$T_DIR/dead.conf" -n "$T_FS" -t 2 $cmd
	ok "$cmd: no cluster: gave up within the --timeout bound ($((SECONDS - start)) s)" \
		test $((SECONDS - start)) -le 6
done
start=$SECONDS
one 1 'within 10 s' "no cluster, default timeout: exit 1" -c "$T_DIR/dead.conf" -n "$T_FS" status
ok "no cluster: the default bound is 10 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 15
one 1 "cannot read ceph config /nonexistent/ceph.conf" "missing ceph.conf: exit 1" \
	-c /nonexistent/ceph.conf -n "$T_FS" status

# --- wrong credentials ---
echo 'not a keyring' >"$T_DIR/garbage.keyring"
printf '[client.admin]\n\tkey = AQBvQm9lAAAAABAAbcdefghijklmnopqrstuvwxyzA==\n' >"$T_DIR/wrong.keyring"
for cmd in mkfs status fsck "purge --cache" recover; do
	code=1
	[ "$cmd" = fsck ] && code=8
	# shellcheck disable=SC2086
	one $code 'authentication as client\.nobody refused' "$cmd: unknown cephx user: exit $code" \
		"${G[@]}" -i nobody $cmd
	# shellcheck disable=SC2086
	one $code 'authentication as client\.admin refused' "$cmd: wrong key: exit $code" \
		"${G[@]}" -k "$T_DIR/wrong.keyring" $cmd
done
one 8 "keyring $T_DIR/garbage.keyring" "fsck: a file that is no keyring: exit 8" \
	"${G[@]}" -k "$T_DIR/garbage.keyring" fsck
one 1 "no key for client\.admin in keyring /nonexistent" "status: missing keyring: exit 1" \
	"${G[@]}" -k /nonexistent status
check_eq "pool, cluster and credential errors changed nothing" "$before" "$(state)"

# --- a filesystem made by a newer datarootfs ---
R setomapval sb format 3
before=$(state)
msg="filesystem '$T_FS' has format version 3; this datarootfs supports up to 2 \(upgrade it\)"
for cmd in status fsck "fsck --repair --offline" "purge --cache" "purge --temp --older-than 1d" \
	"purge --localcache" recover; do
	code=1
	[ "${cmd%% *}" = fsck ] && code=8
	# shellcheck disable=SC2086
	one $code "$msg" "$cmd: newer format: exit $code" "${G[@]}" $cmd
done
one 1 "a filesystem '$T_FS' already exists" "mkfs: newer format: refused, exit 1" "${G[@]}" mkfs
check_eq "newer format: nothing changed" "$before" "$(state)"
R setomapval sb format 2

check_eq "at last, the stale intent is still there for a real recover" 1 \
	"$("$DATAROOTCTL" "${G[@]}" recover 2>/dev/null | grep -c '^1 rename intent')"
check_daemon_logs 'fault injection'
done_testing
