#!/usr/bin/env bash
# check-backend.sh: the backend choke point (doc/design.md, "Backend
# layer").  Only fs/backend.c may call librados; daemon/, tools/ and the
# public fs/ headers must not even include it (only fs/backend.h does,
# for the op types the fs/ modules build compound ops with).
#
#   check-backend.sh [SOURCE_ROOT]    (default: the repository of this script)
#
# Exit 0 when the rule holds, 1 with every offending line listed.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
bad=0

# a librados call: rados_<name>( anywhere but in the backend
calls=$(grep -nE '\brados_[a-z0-9_]+[[:space:]]*\(' \
	fs/*.c fs/*.h daemon/*.c daemon/*.h tools/*.c 2>/dev/null |
	grep -v '^fs/backend\.c:')
if [ -n "$calls" ]; then
	echo "librados called outside fs/backend.c (use the backend layer, fs/backend.h):"
	echo "$calls"
	bad=1
fi

# librados headers: fs/backend.c and fs/backend.h only
incs=$(grep -nE '#[[:space:]]*include[[:space:]]*<rados/' \
	fs/*.c fs/*.h daemon/*.c daemon/*.h tools/*.c 2>/dev/null |
	grep -vE '^fs/backend\.[ch]:')
if [ -n "$incs" ]; then
	echo "librados included outside the backend:"
	echo "$incs"
	bad=1
fi

# daemon/ and tools/ see fs/ through its public headers only
priv=$(grep -nE '#[[:space:]]*include[[:space:]]*"(backend|internal)\.h"' \
	daemon/*.c daemon/*.h tools/*.c fs/*.h 2>/dev/null |
	grep -vE '^fs/(backend|internal)\.h:')
if [ -n "$priv" ]; then
	echo "internal fs/ headers (with librados types) included by a public user:"
	echo "$priv"
	bad=1
fi

[ $bad = 0 ] && echo "ok: only fs/backend.c calls librados"
exit $bad
