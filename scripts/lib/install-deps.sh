# What running ambit from a checkout needs, installed on a fresh Debian/Ubuntu machine
# (as root): system packages, npm dependencies, the native addon. Sourced by
# scripts/test.sh and examples/bookinfo/demo.sh, from the repository root.
#
# The caller defines say MESSAGE (progress) and die MESSAGE (stop): the test command
# must end with its counts line even when it stops early, the demo need not.

# package -> a command it provides (or, starting with /, a file it installs). python3,
# make and g++ build the native addon; curl and tcpdump are the unmodified client and
# the wire capture that the e2e tests and the demo use; setpriv runs a command as a uid.
# nftables' nft lets scripts/iptables/remove.sh delete the nf_tables tables apply.sh had
# to create, so a host is left exactly as it was (without it the empty tables stay).
declare -A AMBIT_RUNTIME_PACKAGES=([iptables]=iptables [iproute2]=ip [redis-server]=redis-server [procps]=ps
	[python3]=python3 [make]=make [g++]=g++ [curl]=curl [tcpdump]=tcpdump [util-linux]=setpriv
	[nftables]=/usr/sbin/nft)

# install_system_packages NAME_OF_ASSOCIATIVE_ARRAY: only touches apt when something is
# missing, and then installs the whole list (so apt settles versions once).
install_system_packages() {
	local -n wanted=$1
	local missing=() pkg tool
	for pkg in "${!wanted[@]}"; do
		tool=${wanted[$pkg]}
		if [[ $tool == /* ]]; then [[ -e $tool ]] || missing+=("$pkg")
		else command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg"); fi
	done
	if ((${#missing[@]} > 0)); then
		[[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; run as root (or: sudo apt-get install -y ${missing[*]})"
		command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get here; install them with your package manager"
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update || die "apt-get update failed"
		apt-get install -y --no-install-recommends "${!wanted[@]}" || die "apt-get install failed"
	fi
	ensure_node
}

# Node.js 20.19+ and npm: the distribution's nodejs when it is new enough (Debian 13 has
# 20.19); otherwise say exactly what to do, since only the distribution's archive is used here.
node_ok() {
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
		node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
}
ensure_node() {
	node_ok && return 0
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		say "installing nodejs and npm (Node.js 20.19+ is required)"
		apt-get update || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm || true
	fi
	node_ok || die "Node.js 20.19 or newer, with npm, is required (found: $(node --version 2>/dev/null || echo none)); this distribution's nodejs is too old: install Node.js 20 LTS from nodejs.org or your vendor's repository, then run this again"
}

# npm dependencies: always fresh on CI, otherwise only when the lockfile moved.
# npm rewrites node_modules/.package-lock.json on every install, so it dates the tree.
# --ignore-scripts: our own `prepare` (addon + tsc) would abort `npm ci` at the first
# type error and hide every test result; callers run the build steps piecewise.
install_npm_deps() {
	if [[ ${CI:-} == true || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
		say "npm ci"
		npm ci --ignore-scripts || die "npm ci failed"
	fi
}

# The SO_ORIGINAL_DST addon: node-gyp rebuilds from scratch (seconds), so only when
# the .node file is missing or older than a source next to it. Returns non-zero when
# the build fails; what that means is the caller's call.
build_native_addon() {
	local addon=native/build/Release/original_dst.node
	if [[ -f native/binding.gyp ]] && [[ ! -f $addon || -n $(find native -maxdepth 1 -type f -newer "$addon") ]]; then
		say "npm run build:native"
		npm run build:native --silent || return 1
	fi
}

# Drop compiled files whose source is gone, so a deleted test or module cannot keep
# running (or keep satisfying imports) from a stale dist/.
drop_stale_dist() {
	[[ -d dist ]] || return 0
	local js src
	while IFS= read -r -d '' js; do
		src=${js#dist/}
		src=${src%.js}
		[[ -e $src.ts || -e $src.js ]] || rm -f "$js" "$js.map"
	done < <(find dist -name '*.js' -print0)
}
