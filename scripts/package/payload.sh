# What both packages carry of this checkout: the files npm pack would pack (package.json's
# "files" field is the one list), so the .deb and the npm tarball never differ in code.
# Sourced by scripts/package/*.sh from the repository root.

# packed_files: one path per line, relative to the repository root.
packed_files() {
	npm pack --dry-run --json --ignore-scripts 2>/dev/null |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const f of JSON.parse(s)[0].files)console.log(f.path)})'
}

# check_payload FILE...: the paths the three commands and capture need at run time are there,
# and nothing of the tests, benchmarks or TypeScript sources crept in.
check_payload() {
	local listing=$1 need
	for need in package.json bin/ambit.js bin/ambitd.js bin/ambit-waypoint.js dist/cli/main.js dist/daemon/main.js dist/waypoint/main.js \
		scripts/iptables/apply.sh scripts/iptables/remove.sh configs/ambitd.service configs/ambitd.yaml native/binding.gyp; do
		grep -qxF "$need" "$listing" || die "the package would lack $need: check package.json \"files\""
	done
	if grep -E '^(test|bench|dist/test|dist/bench|examples)/|\.ts$|\.map$' "$listing" | grep -v '\.d\.ts$' | head -n 5 | grep .; then
		die "the package would carry the files above (tests, benchmarks or sources): check package.json \"files\""
	fi
}
