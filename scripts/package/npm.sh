#!/usr/bin/env bash
# The npm tarball (npm pack): ambit-<version>.tgz in $OUT, for `npm i -g` on a host with
# Node >= 20.19; its install script (native/install.sh) builds the addon there. Run by
# scripts/package/build.sh after the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
say() { printf '\n== %s\n' "$*" >&2; }
die() {
	printf 'scripts/package/npm.sh: %s\n' "$*" >&2
	exit 1
}
source scripts/package/payload.sh
: "${OUT:?run through scripts/package/build.sh}"

listing=$(mktemp)
trap 'rm -f "$listing"' EXIT
packed_files >"$listing"
check_payload "$listing"

say "npm pack"
# The build already ran: prepare would only compile again.
name=$(npm pack --ignore-scripts --silent --pack-destination "$OUT" | tail -n 1)
[[ -f $OUT/$name ]] || die "npm pack wrote no tarball (got \"$name\")"
printf '%s\n' "$OUT/$name"
