# Shared by apply.sh, remove.sh and check.sh (sourced, not run).
#
# ambit owns four chains and touches nothing else:
#   nat    AMBIT_OUTPUT     jumped to from nat OUTPUT: enrolled uids' TCP to mesh CIDRs -> REDIRECT to
#                           the outbound port; any other local user's TCP to a local workload's port ->
#                           REDIRECT to the inbound plaintext port (policy applies to local callers too)
#   nat    AMBIT_DNS        jumped to from AMBIT_OUTPUT: enrolled uids' port 53 -> REDIRECT
#   nat    AMBIT_PREROUTING jumped to from nat PREROUTING: plaintext TCP from other hosts to a local
#                           workload (not STRICT) -> REDIRECT to the inbound plaintext port, where
#                           ambitd applies AuthorizationPolicy with no peer identity, as ztunnel does
#   filter AMBIT_INBOUND    jumped to from filter INPUT: STRICT ports refuse plaintext
# Jumps into our chains carry the comment "ambit", or "ambit:created-table" when
# the table did not exist before we first applied: remove.sh then deletes the
# (by then empty) table too, so iptables-save reads exactly as it did before.

readonly AMBIT_TABLES=(nat filter)
readonly AMBIT_CREATED_COMMENT='ambit:created-table'

die() { echo "ambit-iptables: $*" >&2; exit 2; }
note() { echo "ambit-iptables: $*" >&2; }

usage_common() {
  cat >&2 <<'EOF'
options (each also read from the environment variable shown):
  --uids LIST           enrolled services' users, names or uids          AMBIT_UIDS
  --mesh-cidrs LIST     VIP range and peer node/endpoint addresses         AMBIT_MESH_CIDRS
                        (default 240.240.0.0/16; IPv6 entries go to ip6tables)
  --exempt-uid LIST     the daemon's user: never captured                  AMBIT_EXEMPT_UID
  --exempt-gid LIST     the daemon's group: never captured                 AMBIT_EXEMPT_GID
  --mark MARK[/MASK]    sockets with this fwmark are never captured        AMBIT_MARK (0x539)
  --dns / --no-dns      redirect enrolled users' port 53 to --dns-port     AMBIT_DNS (0)
  --outbound-port PORT  where captured TCP goes                            AMBIT_OUTBOUND_PORT (15001)
  --dns-port PORT       where captured DNS goes                            AMBIT_DNS_PORT (15053)
  --strict-ports LIST   inbound plaintext TCP to these is reset, except    AMBIT_STRICT_PORTS
                        over loopback (where the daemon delivers)
  --inbound-endpoints LIST  this host's workloads, ADDR:PORT ([ADDR]:PORT  AMBIT_INBOUND_ENDPOINTS
                        for IPv6): plaintext to them goes to --inbound-port
  --inbound-port PORT   where captured inbound plaintext goes              AMBIT_INBOUND_PORT (15006)
  --ipv6 auto|on|off    also program ip6tables                             AMBIT_IPV6 (auto)
EOF
}

# Reads options into the OPT_* globals, then validates and normalises them.
parse_args() {
  OPT_UIDS=${AMBIT_UIDS:-}
  OPT_CIDRS=${AMBIT_MESH_CIDRS:-240.240.0.0/16}
  OPT_EXEMPT_UIDS=${AMBIT_EXEMPT_UID:-}
  OPT_EXEMPT_GIDS=${AMBIT_EXEMPT_GID:-}
  OPT_MARK=${AMBIT_MARK:-0x539}
  OPT_DNS=${AMBIT_DNS:-0}
  OPT_OUT_PORT=${AMBIT_OUTBOUND_PORT:-15001}
  OPT_DNS_PORT=${AMBIT_DNS_PORT:-15053}
  OPT_STRICT=${AMBIT_STRICT_PORTS:-}
  OPT_IPV6=${AMBIT_IPV6:-auto}
  OPT_INBOUND=${AMBIT_INBOUND_ENDPOINTS:-}
  OPT_IN_PORT=${AMBIT_INBOUND_PORT:-15006}
  while (($#)); do
    case $1 in
      --uids) need "$@"; OPT_UIDS=$2; shift ;;
      --mesh-cidrs) need "$@"; OPT_CIDRS=$2; shift ;;
      --exempt-uid) need "$@"; OPT_EXEMPT_UIDS=$2; shift ;;
      --exempt-gid) need "$@"; OPT_EXEMPT_GIDS=$2; shift ;;
      --mark) need "$@"; OPT_MARK=$2; shift ;;
      --dns) OPT_DNS=1 ;;
      --no-dns) OPT_DNS=0 ;;
      --outbound-port) need "$@"; OPT_OUT_PORT=$2; shift ;;
      --dns-port) need "$@"; OPT_DNS_PORT=$2; shift ;;
      --strict-ports) need "$@"; OPT_STRICT=$2; shift ;;
      --ipv6) need "$@"; OPT_IPV6=$2; shift ;;
      --inbound-endpoints) need "$@"; OPT_INBOUND=$2; shift ;;
      --inbound-port) need "$@"; OPT_IN_PORT=$2; shift ;;
      -h | --help) usage; exit 0 ;;
      *) usage; die "unknown option '$1'" ;;
    esac
    shift
  done

  UIDS=$(ids_of "$OPT_UIDS" user)
  EXEMPT_UIDS=$(ids_of "$OPT_EXEMPT_UIDS" user)
  EXEMPT_GIDS=$(ids_of "$OPT_EXEMPT_GIDS" group)
  STRICT_PORTS=$(split_list "$OPT_STRICT")
  for port in $STRICT_PORTS "$OPT_OUT_PORT" "$OPT_DNS_PORT" "$OPT_IN_PORT"; do valid_port "$port"; done
  INBOUND4='' INBOUND6=''
  local endpoint address
  for endpoint in $(split_list "$OPT_INBOUND"); do
    # valid_port matches a regex too, so the address is taken before it runs.
    if [[ $endpoint =~ ^([0-9]{1,3}(\.[0-9]{1,3}){3}):([0-9]+)$ ]]; then
      address=${BASH_REMATCH[1]} port=${BASH_REMATCH[3]}
      INBOUND4+=" $address:$port"
    elif [[ $endpoint =~ ^\[([0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\]:([0-9]+)$ ]]; then
      address=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
      INBOUND6+=" $address:$port"
    else
      die "bad inbound endpoint '$endpoint': want ADDR:PORT, e.g. 10.0.0.5:9080 or [fd00::5]:9080"
    fi
    valid_port "$port"
  done
  [[ $OPT_MARK =~ ^(0x[0-9a-fA-F]+|[0-9]+)(/(0x[0-9a-fA-F]+|[0-9]+))?$ ]] || die "bad --mark '$OPT_MARK': want e.g. 0x539 or 0x539/0xfff"
  [[ $OPT_DNS =~ ^[01]$ ]] || die "AMBIT_DNS must be 0 or 1, not '$OPT_DNS'"
  [[ $OPT_IPV6 =~ ^(auto|on|off)$ ]] || die "bad --ipv6 '$OPT_IPV6': want auto, on or off"
  CIDRS4='' CIDRS6=''
  for cidr in $(split_list "$OPT_CIDRS"); do
    if [[ $cidr =~ ^[0-9.]+(/[0-9]{1,2})?$ ]]; then CIDRS4+=" $cidr"
    elif [[ $cidr =~ ^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(/[0-9]{1,3})?$ ]]; then CIDRS6+=" $cidr"
    else die "bad mesh CIDR '$cidr': want e.g. 240.240.0.0/16 or fd00::/64"
    fi
  done
  # A daemon that is also enrolled would capture its own upstream connections: a loop.
  for uid in $UIDS; do
    for exempt in $EXEMPT_UIDS; do
      [[ $uid != "$exempt" ]] || die "uid $uid is both enrolled (--uids) and the exempt daemon uid: that would loop"
    done
  done
}

# Option $1 must have a value after it: exit 2 (usage), never check.sh's 1 (drift).
need() { (($# >= 2)) || die "$1 needs a value"; }

split_list() { echo "${1//,/ }"; }

valid_port() {
  [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535)) || die "bad port '$1': want 1-65535"
}

# Numeric ids for a comma list of names or numbers, so rules and checks compare as iptables prints them.
ids_of() {
  local item id out=''
  for item in $(split_list "$1"); do
    if [[ $item =~ ^[0-9]+$ ]]; then id=$item
    elif [[ $2 == user ]]; then id=$(id -u "$item" 2>/dev/null) || die "no such user '$item'"
    else id=$(getent group "$item" | cut -d: -f3) && [[ -n $id ]] || die "no such group '$item'"
    fi
    out+=" $id"
  done
  echo "$out"
}

# Sets IPT, IPT_SAVE, IPT_RESTORE, NFT_FAMILY for family 4 or 6.
use_family() {
  if [[ $1 == 4 ]]; then IPT=iptables NFT_FAMILY=ip; else IPT=ip6tables NFT_FAMILY=ip6; fi
  IPT_SAVE=$IPT-save IPT_RESTORE=$IPT-restore
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH: install iptables (apt-get install -y iptables)"
  done
}

# "nf_tables" or "legacy", from `iptables -V`, e.g. "iptables v1.8.9 (nf_tables)".
backend() {
  local version
  version=$("$IPT" -V 2>/dev/null) || die "'$IPT -V' failed"
  if [[ $version == *nf_tables* ]]; then echo nf_tables; else echo legacy; fi
}

# FAMILIES: 4 always; 6 per --ipv6 (auto: when ip6tables exists and the kernel has IPv6).
wanted_families() {
  FAMILIES=(4)
  case $OPT_IPV6 in
    on) require_tools ip6tables ip6tables-save ip6tables-restore; FAMILIES+=(6) ;;
    auto) command -v ip6tables >/dev/null 2>&1 && [[ -e /proc/net/if_inet6 ]] && FAMILIES+=(6) ;;
  esac
  return 0
}

# TABLES[name] = that table's lines from the current family's save (no comments,
# no COMMIT); a table missing from the dump does not exist. Unlike
# `iptables -t T -S`, a plain save never instantiates a table on the legacy
# backend, so looking does not change what we look at. Parsed in bash: these
# scripts run at boot and in `ambit doctor`, and every fork counts on a busy host.
load_tables() {
  local out line table=''
  out=$("$IPT_SAVE") || die "'$IPT_SAVE' failed"
  declare -gA TABLES=()
  while IFS= read -r line; do
    case $line in
      '#'* | '') ;;
      '*'*) table=${line#\*} && TABLES[$table]='' ;;
      COMMIT) table='' ;;
      *) if [[ -n $table ]]; then TABLES[$table]+="$line"$'\n'; fi ;;
    esac
  done <<<"$out"
}

has_table() { [[ -v TABLES[$1] ]]; }
has_chain() { [[ $'\n'${TABLES[$1]-} == *$'\n'":$2 "* ]]; }
has_rule() { [[ $'\n'${TABLES[$1]-} == *$'\n'"$2"$'\n'* ]]; }

# Jumps from a built-in chain into any of ours, as saved (whatever their comment).
jumps_in() {
  local line
  JUMPS=()
  while IFS= read -r line; do
    [[ $line =~ ^-A\ (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING)\ .*-j\ AMBIT_[A-Z_]+( |$) ]] && JUMPS+=("$line")
  done <<<"${TABLES[$1]-}"
  return 0
}

# Whether built-in chain $2 of table $1 already jumps to our chain $3.
has_jump() {
  local line
  jumps_in "$1"
  for line in "${JUMPS[@]}"; do
    [[ "$line " == "-A $2 "*" -j $3 "* ]] && return 0
  done
  return 1
}

# Per table, the jumps we own, as HOOK:ENTRY.
declare -rA JUMP_SPECS=([nat]='OUTPUT:AMBIT_OUTPUT PREROUTING:AMBIT_PREROUTING' [filter]='INPUT:AMBIT_INBOUND')
declare -rA CHAINS=([nat]='AMBIT_OUTPUT AMBIT_DNS AMBIT_PREROUTING' [filter]='AMBIT_INBOUND')

# RULES: our rules for the current family, in order, as "TABLE CHAIN SPEC...",
# spelled the way iptables-save prints them. Specs hold no quotes or spaces
# inside arguments, so they split safely on whitespace.
desired_rules() {
  local cidrs uid cidr gid port proto inbound endpoint address ports='' host
  if [[ $IPT == iptables ]]; then cidrs=$CIDRS4 inbound=$INBOUND4 host=32; else cidrs=$CIDRS6 inbound=$INBOUND6 host=128; fi
  RULES=("nat AMBIT_OUTPUT -m mark --mark $OPT_MARK -j RETURN")
  for uid in $EXEMPT_UIDS; do RULES+=("nat AMBIT_OUTPUT -m owner --uid-owner $uid -j RETURN"); done
  for gid in $EXEMPT_GIDS; do RULES+=("nat AMBIT_OUTPUT -m owner --gid-owner $gid -j RETURN"); done
  RULES+=("nat AMBIT_OUTPUT -j AMBIT_DNS")
  for uid in $UIDS; do
    for cidr in $cidrs; do
      RULES+=("nat AMBIT_OUTPUT -d $cidr -p tcp -m owner --uid-owner $uid -j REDIRECT --to-ports $OPT_OUT_PORT")
    done
  done
  # After the enrolled users' rules: an enrolled caller of a local workload keeps its outbound path
  # (mesh CIDRs hold local workload addresses); anyone else local reaches it through the inbound policy.
  for endpoint in $inbound; do
    port=${endpoint##*:}
    [[ " $ports " == *" $port "* ]] && continue
    ports+=" $port"
    RULES+=("nat AMBIT_OUTPUT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport $port -j REDIRECT --to-ports $OPT_IN_PORT")
  done
  for endpoint in $inbound; do
    address=${endpoint%:*} port=${endpoint##*:}
    # STRICT ports are refused by AMBIT_INBOUND instead; loopback cannot arrive from another host.
    [[ " $STRICT_PORTS " == *" $port "* || $address == 127.* || $address == ::1 ]] && continue
    RULES+=("nat AMBIT_PREROUTING -d $address/$host -p tcp -m tcp --dport $port -j REDIRECT --to-ports $OPT_IN_PORT")
  done
  if [[ $OPT_DNS == 1 ]]; then
    for uid in $UIDS; do
      for proto in udp tcp; do
        RULES+=("nat AMBIT_DNS -p $proto -m $proto --dport 53 -m owner --uid-owner $uid -j REDIRECT --to-ports $OPT_DNS_PORT")
      done
    done
  fi
  if [[ -n $STRICT_PORTS ]]; then
    # The daemon hands decrypted traffic to the service over loopback (127.0.0.1 or
    # the node's own address, both of which arrive on lo); everything else is plaintext.
    RULES+=("filter AMBIT_INBOUND -i lo -j RETURN")
    for port in $STRICT_PORTS; do
      RULES+=("filter AMBIT_INBOUND -p tcp -m tcp --dport $port -j REJECT --reject-with tcp-reset")
    done
  fi
}

# Delete the current family's jumps and chains in one restore transaction, then
# the tables we created (or CREATED_TABLES names), once empty. With JUMPS_ONLY=1
# only the jumps go: nothing new is captured, but our chains stay, because
# deleting a REDIRECT rule makes the kernel forget the NAT of every connection it
# redirected, and those (the daemon draining them) would break. The tables we
# created are then listed in FOUND_CREATED, for the later full removal to drop.
remove_family() {
  local table chain line body payload='' created=(${CREATED_TABLES-})
  FOUND_CREATED=()
  load_tables
  for table in "${AMBIT_TABLES[@]}"; do
    jumps_in "$table"
    body=''
    for line in "${JUMPS[@]}"; do
      [[ $line == *"$AMBIT_CREATED_COMMENT"* ]] && created+=("$table")
      body+="-D ${line#-A }"$'\n'
    done
    if [[ ${JUMPS_ONLY-0} != 1 ]]; then
      # Flush all before deleting any: AMBIT_OUTPUT references AMBIT_DNS.
      for chain in ${CHAINS[$table]}; do has_chain "$table" "$chain" && body+="-F $chain"$'\n'; done
      for chain in ${CHAINS[$table]}; do has_chain "$table" "$chain" && body+="-X $chain"$'\n'; done
    fi
    [[ -z $body ]] || payload+="*$table"$'\n'"$body"$'COMMIT\n'
  done
  [[ -z $payload ]] || "$IPT_RESTORE" -w 10 --noflush <<<"$payload" || die "$IPT_RESTORE could not remove:"$'\n'"$payload"
  ((${#created[@]} == 0)) && return 0
  if [[ ${JUMPS_ONLY-0} == 1 ]]; then FOUND_CREATED=("${created[@]}"); else drop_tables_if_empty "${created[@]}"; fi
}

drop_tables_if_empty() {
  local table line nft seen=" "
  load_tables
  for table in "$@"; do
    # A table we created carries the note on each of its jumps: listed once per jump.
    [[ $seen == *" $table "* ]] && continue
    seen+="$table "
    has_table "$table" || continue
    # Empty: no rules, no user chains, every built-in chain still ACCEPT.
    while IFS= read -r line; do
      [[ -z $line || $line =~ ^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING)\ ACCEPT\  ]] || continue 2
    done <<<"${TABLES[$table]-}"
    if [[ $(backend) != nf_tables ]]; then
      note "the empty $NFT_FAMILY $table table stays: the legacy backend cannot delete a table"
    elif ! nft=$(nft_command); then
      note "the empty $NFT_FAMILY $table table stays: deleting it needs 'nft' (apt-get install -y nftables)"
    else
      "$nft" delete table "$NFT_FAMILY" "$table"
    fi
  done
}

# The nftables CLI. System directories first: npm puts an unrelated `nft` (@vercel/nft)
# on PATH for scripts, so a candidate must say it is nftables.
nft_command() {
  local candidate
  for candidate in /usr/sbin/nft /sbin/nft /usr/local/sbin/nft $(type -ap nft); do
    [[ -x $candidate && $("$candidate" --version 2>/dev/null) == nftables* ]] && { echo "$candidate"; return 0; }
  done
  return 1
}
