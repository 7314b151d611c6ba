#!/usr/bin/env bash
# Exit 0 when the rules apply.sh would install with these options are in place,
# else 1 with one line per problem (for `ambit doctor`); 2 on bad usage or no
# iptables. Read-only: it never changes, nor instantiates, a table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  echo "usage: check.sh [same options as apply.sh]" >&2
  usage_common
}

parse_args "$@"
require_tools iptables iptables-save
wanted_families
problems=()

for family in "${FAMILIES[@]}"; do
  use_family "$family"
  load_tables
  desired_rules
  for table in "${AMBIT_TABLES[@]}"; do
    for jump in ${JUMP_SPECS[$table]}; do
      has_jump "$table" "${jump%%:*}" "${jump#*:}" || problems+=("$IPT: no jump from $table/${jump%%:*} to ${jump#*:}")
    done
    for chain in ${CHAINS[$table]}; do
      if ! has_chain "$table" "$chain"; then
        problems+=("$IPT: chain $table/$chain is missing")
        continue
      fi
      want=0 have=0
      for rule in "${RULES[@]}"; do [[ $rule != "$table $chain "* ]] || ((++want)); done
      while IFS= read -r line; do [[ $line != "-A $chain "* ]] || ((++have)); done <<<"${TABLES[$table]}"
      ((want == have)) || problems+=("$IPT: $table/$chain has $have rules, expected $want (stale options or hand edits: re-run apply.sh)")
    done
  done
  for rule in "${RULES[@]}"; do
    read -r table chain spec <<<"$rule"
    has_chain "$table" "$chain" || continue
    # RULES are spelled as iptables-save prints them, so usually the text matches;
    # otherwise -C asks the kernel, so a version that prints a rule differently
    # does not count as drift.
    has_rule "$table" "-A $chain $spec" && continue
    # shellcheck disable=SC2086 # spec is a word list by construction
    "$IPT" -w 10 -t "$table" -C "$chain" $spec 2>/dev/null || problems+=("$IPT: missing rule: -t $table -A $chain $spec")
  done
done

if ((${#problems[@]})); then
  printf 'ambit-iptables: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "ambit-iptables: capture rules in place"
