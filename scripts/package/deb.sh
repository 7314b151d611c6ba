#!/usr/bin/env bash
# The Debian package: ambit_<version>_<arch>.deb in $OUT. Everything lives under /opt/ambit:
# the files npm pack would pack, production node_modules, the built addon, and the Node.js
# that runs this build (node/bin/node), so the host needs neither Node nor a compiler.
# /usr/bin/ambit, ambitd and ambit-waypoint exec that node, which makes `ambit install`
# write a unit that runs /opt/ambit (it uses the node and the code it runs from).
# Run by scripts/package/build.sh after the build, as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
say() { printf '\n== %s\n' "$*" >&2; }
die() {
	printf 'scripts/package/deb.sh: %s\n' "$*" >&2
	exit 1
}
source scripts/package/payload.sh
: "${OUT:?run through scripts/package/build.sh}" "${VERSION:?run through scripts/package/build.sh}"

PREFIX=/opt/ambit
[[ $(id -u) -eq 0 ]] || die "run as root: the package's files must be owned by root, and dpkg-dev may need installing"
command -v dpkg-deb >/dev/null || die "no dpkg-deb: build the .deb on Debian or Ubuntu"
if ! command -v dpkg-shlibdeps >/dev/null; then
	say "apt-get install dpkg-dev (dpkg-shlibdeps: the libraries node and the addon link against)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev ||
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg-dev; } ||
		die "apt-get install dpkg-dev failed"
fi

NODE=$(node -p process.execPath)
ARCH=$(dpkg --print-architecture)
node_arch=$(node -p process.arch)
case $node_arch/$ARCH in
	x64/amd64 | arm64/arm64 | arm/armhf | ppc64/ppc64el | s390x/s390x) ;;
	*) die "node ($NODE) is built for $node_arch, this dpkg for $ARCH: build on a host whose node matches its architecture" ;;
esac
ADDON=native/build/Release/original_dst.node
[[ -f $ADDON ]] || die "$ADDON is missing: npm run build:native"
# Debian versions sort "~" before anything, as semver sorts a prerelease before its release.
DEB_VERSION=${VERSION/-/\~}
DEB=$OUT/ambit_${DEB_VERSION}_${ARCH}.deb

STAGE=$(mktemp -d /var/tmp/ambit-deb.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
DEST=$ROOT$PREFIX
mkdir -p "$DEST"

say "payload: npm pack's files, $ADDON, node $(node --version)"
listing=$STAGE/files
packed_files >"$listing"
check_payload "$listing"
# --no-same-owner: everything root's, whatever the checkout's owner.
tar -cf - -T "$listing" | tar -xf - -C "$DEST" --no-same-owner
install -D -m 0755 "$ADDON" "$DEST/$ADDON"
install -D -m 0755 "$NODE" "$DEST/node/bin/node"
for doc in /usr/share/doc/nodejs/LICENSE "$(dirname "$NODE")/../share/doc/node/LICENSE"; do
	[[ -f $doc ]] && { install -D -m 0644 "$doc" "$DEST/node/LICENSE"; break; }
done

say "production node_modules (npm ci --omit=dev --ignore-scripts in the stage)"
cp package-lock.json "$DEST/"
# No install scripts: none of the production dependencies needs one (the addon is ours, built above).
(cd "$DEST" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error) ||
	die "npm ci --omit=dev in the stage failed (errors above)"
rm -f "$DEST/package-lock.json"

say "smoke test: the staged tree runs on its own node"
staged_version=$("$DEST/node/bin/node" "$DEST/bin/ambit.js" version -o json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).ambit')
[[ $staged_version == "$VERSION" ]] || die "the staged ambit says version \"$staged_version\", package.json $VERSION"
"$DEST/node/bin/node" -e "require('$DEST/$ADDON')" || die "the staged addon does not load in the staged node"

# The commands on PATH: a wrapper, not a symlink, since bin/*.js start with
# '#!/usr/bin/env node' and a host installing this package may have no node (or another one).
mkdir -p "$ROOT/usr/bin"
for cmd in ambit ambitd ambit-waypoint; do
	cat >"$ROOT/usr/bin/$cmd" <<WRAPPER
#!/bin/sh
# $cmd from the ambit package: run by the Node.js it ships ($PREFIX/node/bin/node).
exec $PREFIX/node/bin/node $PREFIX/bin/$cmd.js "\$@"
WRAPPER
	chmod 0755 "$ROOT/usr/bin/$cmd"
done

# Shell completion, as `ambit completion` prints it for this version.
mkdir -p "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions"
"$DEST/node/bin/node" "$DEST/bin/ambit.js" completion bash >"$ROOT/usr/share/bash-completion/completions/ambit"
"$DEST/node/bin/node" "$DEST/bin/ambit.js" completion zsh >"$ROOT/usr/share/zsh/vendor-completions/_ambit"

mkdir -p "$ROOT/usr/share/doc/ambit"
cat >"$ROOT/usr/share/doc/ambit/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ambit

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.

Files: $PREFIX/node/*
License: MIT and others
 Node.js $(node --version), as shipped by its vendor; its licenses are in $PREFIX/node/LICENSE.

Files: $PREFIX/node_modules/*
License: various (MIT, Apache-2.0, ISC, BSD)
 Each module's license is in its own directory.
COPYRIGHT

say "control: Depends from dpkg-shlibdeps and the tools ambit runs"
mkdir -p "$STAGE/shlibs/debian"
printf 'Source: ambit\n\nPackage: ambit\nArchitecture: any\n' >"$STAGE/shlibs/debian/control"
shlibs=$(cd "$STAGE/shlibs" && dpkg-shlibdeps -O -e"$DEST/node/bin/node" -e"$DEST/$ADDON" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || die "dpkg-shlibdeps found no library dependencies for node and the addon"
# iptables (and ip6tables): the capture rules; nftables' nft deletes the tables apply.sh had to
# create, so removal leaves iptables-save as it was; iproute2 for addresses; procps for the
# unit's kill (ExecReload); redis-server is the store, which may run on another host.
depends="$shlibs, iptables, iproute2, nftables, procps"
installed_size=$(du -sk --apparent-size "$ROOT" | cut -f1)

mkdir -p "$ROOT/DEBIAN"
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: ambit
Version: $DEB_VERSION
Architecture: $ARCH
Maintainer: ${AMBIT_DEB_MAINTAINER:-ambit developers <ambit@localhost>}
Installed-Size: $installed_size
Depends: $depends
Recommends: redis-server
Section: net
Priority: optional
Description: ambient service mesh for plain Linux hosts
 ambitd captures enrolled services' traffic with iptables and carries it between
 hosts in HBONE mTLS tunnels, applying Istio's AuthorizationPolicy at L4;
 ambit-waypoint adds L7 routing, resilience and policy per service; ambit is the
 CLI (install, enroll, apply Istio YAML, inspect). Ships its own Node.js runtime
 under $PREFIX.
CONTROL
install -m 0755 scripts/package/deb/postinst scripts/package/deb/prerm "$ROOT/DEBIAN/"

say "dpkg-deb --build"
# ~100 MB of node: xz on every core keeps this to seconds.
dpkg-deb --root-owner-group -Zxz --threads-max="$(nproc)" --build "$ROOT" "$DEB" >&2
dpkg-deb --field "$DEB" Package Version Architecture Depends >&2
printf '%s\n' "$DEB"
