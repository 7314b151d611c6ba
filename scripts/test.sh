#!/usr/bin/env bash
# The one test command: bash scripts/test.sh [test paths or ava options...]
#
# On a fresh Debian/Ubuntu machine (as root) it installs the system tools the tests
# use, installs npm dependencies, builds, runs ava, and ends with ONE line:
#   N passed, N failed[, N skipped]
# counted from ava's TAP output. It exits non-zero if anything failed, the build or the
# lint failed, or ava crashed; a crash is never reported as "0 failed".
#
#   bash scripts/test.sh                  # everything, and the lint (eslint, prettier --check)
#   bash scripts/test.sh test/unit        # a folder (source paths map to dist/)
#   bash scripts/test.sh test/unit/x.test.ts --match '*yaml*'
#
# The full TAP stream (and test stderr) goes to $AMBIT_TEST_LOG (default ./test.log).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOG=${AMBIT_TEST_LOG:-test.log}
started=$SECONDS

say() { printf '\n== %s\n' "$*"; }
# Even a run that stops early ends with the counts line, so CI never reads it as green.
die() {
	printf 'scripts/test.sh: %s\n' "$*" >&2
	echo "0 passed, 1 failed"
	exit 2
}

source scripts/lib/install-deps.sh

# --- system packages: only touch apt when something is missing -----------------
# Beyond what ambit itself needs: hyperfine times the CLI, python3-h2 is an
# independent HTTP/2 stack for HBONE interop (checked by its module file), and
# systemd's systemd-analyze verifies the units `ambit install` writes (and its
# systemd-socket-activate starts ambitd socket-activated in an e2e test), and redis-sentinel
# (plus openssl for a throwaway Redis TLS certificate) runs the store's failover and TLS tests;
# zsh runs the script `ambit completion zsh` prints, as bash runs the bash one;
# debootstrap makes the fresh Debian the .deb is installed into (test/e2e/package-deb,
# cached in /var/cache/ambit-test/debootstrap), and dpkg-dev's dpkg-shlibdeps gives the
# .deb its library dependencies; chromium is the headless browser the OidcLogin test drives
# through playwright-core (test/integration/waypoint-oidc-login); prometheus is a real
# Prometheus that scrapes a netns mesh (test/e2e/mesh-prometheus and cli-stat-tap run their
# own; the package's own service is not used).
declare -A tool_of=([hyperfine]=hyperfine [chromium]=/usr/bin/chromium [python3-h2]=/usr/lib/python3/dist-packages/h2/__init__.py [systemd]=systemd-analyze
	[redis-sentinel]=redis-sentinel [openssl]=openssl [zsh]=zsh [debootstrap]=debootstrap [dpkg-dev]=dpkg-shlibdeps
	[prometheus]=/usr/bin/prometheus)
for pkg in "${!AMBIT_RUNTIME_PACKAGES[@]}"; do tool_of[$pkg]=${AMBIT_RUNTIME_PACKAGES[$pkg]}; done
install_system_packages tool_of

# --- npm dependencies -----------------------------------------------------------------
install_npm_deps

# --- build ------------------------------------------------------------------------------
# A failed build step is reported and counted as a failure, but the tests still run:
# tsc emits JavaScript despite type errors, and one module's error should not hide
# everyone's results.
build_notes=()
build_native_addon || build_notes+=("the native addon build failed (errors above): counted as 1 failure")
drop_stale_dist
say "npm run build"
npm run build --silent || build_notes+=("the TypeScript build failed (errors above): counted as 1 failure")

# --- lint ---------------------------------------------------------------------------------
# `npm run lint` less its tsc, which the build just ran: each tool that finds a problem is
# counted as 1 failure, like a failed build, and the tests still run. Only on a full run
# (what CI does): ESLint is type-aware, so it costs about one more type check, which a run
# of one test file should not pay. `npm run format` fixes what prettier reports.
if (($# == 0)); then
	say "eslint ."
	npx --no-install eslint . || build_notes+=("eslint found problems (listed above): counted as 1 failure")
	say "prettier --check ."
	npx --no-install prettier --check --log-level warn . ||
		build_notes+=("prettier --check: the files listed above are not formatted (npm run format): counted as 1 failure")
fi

# --- ava ----------------------------------------------------------------------------------
# Source paths (test/unit, test/x.test.ts) name their compiled files in dist/.
args=()
# Anything else (dist/ paths, ava options and their values) passes through as is.
for arg in "$@"; do
	arg=${arg#./}
	case $arg in
		test/*.ts | test*.ts) args+=("dist/${arg%.ts}.js") ;;
		test | test/*) args+=("dist/${arg%/}") ;;
		*) args+=("$arg") ;;
	esac
done

say "ava ${args[*]:-}"
# TAP on stdout is our source of counts; test output (stderr) goes to the log as well.
# Counts come from a private copy: two runs in one checkout must not mix their logs.
run_log=$(mktemp)
trap 'rm -f "$run_log"' EXIT
npx --no-install ava --tap "${args[@]}" 2>&1 | tee "$run_log"
ava_rc=${PIPESTATUS[0]}
cp "$run_log" "$LOG"

# --- summary ----------------------------------------------------------------------------
last() { grep -E "^# $1 [0-9]+\$" "$run_log" | tail -n 1 | awk '{print $3}'; }
pass=$(last pass)
fail=$(last fail)
skip=$(last skip)
# ava's "# fail" also counts todo tests; they are not failures.
todo=$(grep -cE '^not ok [0-9]+ - .* # TODO$' "$run_log")
notes=()
if [[ -z $pass || -z $fail ]]; then
	# No summary: ava died. Count what it did report, and the crash as a failure.
	pass=$(grep -cE '^ok [0-9]+ ' "$run_log")
	fail=$(($(grep -cE '^not ok [0-9]+ ' "$run_log") - todo + 1))
	skip=$(grep -cE '^ok [0-9]+ - .* # SKIP$' "$run_log")
	pass=$((pass - skip))
	notes+=("ava crashed (exit $ava_rc) before reporting results: counted as 1 failure")
	# ava 7.0.0's TAP reporter throws on its own inactivity timeout (config "timeout"):
	# avajs/ava#3461, fix pending in avajs/ava#3325.
	grep -q 'TapReporter.writeTimeout' "$run_log" &&
		notes+=("cause: a test hung past ava's timeout; ava's TAP reporter crashed listing the pending tests, so look for tests without a result above")
else
	fail=$((fail - todo))
	skip=${skip:-0}
	if ((ava_rc != 0 && fail == 0)); then
		fail=1
		notes+=("ava exited $ava_rc without reporting a failing test (see its messages above): counted as 1 failure")
	fi
fi
fail=$((fail + ${#build_notes[@]}))
notes+=("${build_notes[@]}")

failures=$(grep -E '^not ok [0-9]+ ' "$run_log" | grep -vE ' # TODO$')
if [[ -n $failures || ${#notes[@]} -gt 0 ]]; then
	say "failures (details in $LOG)"
	[[ -n $failures ]] && printf '%s\n' "$failures"
	for note in "${notes[@]}"; do printf '%s\n' "$note"; done
fi
((todo > 0)) && printf '%s todo\n' "$todo"
printf '\ntook %ss; full output in %s\n' "$((SECONDS - started))" "$LOG"

line="$pass passed, $fail failed"
((skip > 0)) && line+=", $skip skipped"
echo "$line"
((fail == 0 && ava_rc == 0))
