#!/usr/bin/env bash
# The Bookinfo demo in one command, on a fresh Debian/Ubuntu machine, as root:
#
#   bash examples/bookinfo/demo.sh [--yes]
#
# Installs what it needs (apt packages, npm dependencies, the native addon), builds,
# then runs dist/examples/bookinfo/demo.js: Redis, a CA and three network-namespace
# hosts with one ambitd each, the Bookinfo services, and the walkthrough. Everything it
# starts is removed when it ends, fails or is interrupted. --yes: do not pause between
# steps (pauses happen only on a terminal anyway).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '\n== %s\n' "$*"; }
die() {
	printf 'examples/bookinfo/demo.sh: %s\n' "$*" >&2
	exit 2
}

# Network namespaces and iptables need root; say so before installing anything.
[[ $(id -u) -eq 0 ]] || die "the demo builds network namespaces and iptables rules: run it as root (sudo bash examples/bookinfo/demo.sh)"

source scripts/lib/install-deps.sh
install_system_packages AMBIT_RUNTIME_PACKAGES
install_npm_deps
build_native_addon || die "the native addon build failed (errors above)"
# tsc rewrites dist/.tsbuildinfo only when it compiled something, so it dates the build;
# a no-op tsc run still costs ~10 s, which a re-run of the demo should not pay.
stamp=dist/.tsbuildinfo
if [[ ! -f $stamp || ! -f dist/examples/bookinfo/demo.js ||
	-n $(find cli core daemon waypoint examples test/helpers tsconfig.json tsconfig.build.json \( -name '*.ts' -o -name 'tsconfig*.json' \) -newer "$stamp" -print -quit 2>/dev/null) ]]; then
	drop_stale_dist
	say "npm run build"
	npm run build --silent || die "the TypeScript build failed (errors above)"
fi

exec node dist/examples/bookinfo/demo.js "$@"
