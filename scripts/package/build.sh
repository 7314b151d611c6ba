#!/usr/bin/env bash
# `npm run package`: the two ways ambit ships, built from this checkout.
#   deb  ambit_<version>_<arch>.deb: everything under /opt/ambit, with its own Node.js
#        (the one running this build), so a host needs neither Node nor a compiler;
#        needs root (apt-get for dpkg-dev, files owned by root) on Debian/Ubuntu.
#   npm  ambit-<version>.tgz (npm pack): for `npm i -g` on a host with Node >= 20.19,
#        whose install builds the native addon (native/install.sh).
#
#   bash scripts/package/build.sh [deb|npm ...]   # default: both
#   AMBIT_PACKAGE_OUT=dir                          # where they go (default: ./packages)
#   AMBIT_PACKAGE_PREBUILT=1                       # package dist/ and the addon as they are
#
# Needs this checkout's npm dependencies (npm ci): it compiles dist/ and the addon first,
# so a package never carries stale output. PREBUILT is for tests run by scripts/test.sh,
# which has just built both: compiling again would rewrite dist/ under running tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '\n== %s\n' "$*" >&2; }
die() {
	printf 'scripts/package/build.sh: %s\n' "$*" >&2
	exit 1
}
source scripts/lib/install-deps.sh

kinds=("$@")
((${#kinds[@]})) || kinds=(deb npm)
for kind in "${kinds[@]}"; do
	[[ $kind == deb || $kind == npm ]] || die "unknown package kind \"$kind\": give deb, npm or nothing (both)"
done

OUT=${AMBIT_PACKAGE_OUT:-packages}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The checkout's own npm ci is the developer's step, not ours (it would replace node_modules).
[[ -d node_modules ]] || die "no node_modules: run 'npm ci' in $(pwd) first"
if [[ ${AMBIT_PACKAGE_PREBUILT:-} == 1 ]]; then
	[[ -f dist/cli/main.js ]] || die "AMBIT_PACKAGE_PREBUILT=1 but dist/ is not built: npm run build"
else
	build_native_addon || die "the native addon did not build (errors above); the .deb must carry it"
	drop_stale_dist
	say "npm run build"
	npm run build --silent || die "the TypeScript build failed (errors above)"
fi

VERSION=$(node -p 'require("./package.json").version')
export VERSION OUT
for kind in "${kinds[@]}"; do
	case $kind in
		deb) bash scripts/package/deb.sh ;;
		npm) bash scripts/package/npm.sh ;;
	esac
done
