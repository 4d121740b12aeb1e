#!/usr/bin/env bash
# Runs several `pjsharp serve` nodes behind Kamailio on one shared PostgreSQL, all on loopback:
#
#   phones --> Kamailio 127.0.0.10:5060 --+--> node-a 127.0.0.11:5060 --+--> PostgreSQL 127.0.0.13:5432
#                                         +--> node-b 127.0.0.12:5060 --+    (a private instance)
#
# usage: cluster.sh <command> [node]
#   start              initialise what is missing (PostgreSQL data, settings), start everything not running
#   stop               stop everything this run directory started (nodes, Kamailio, PostgreSQL), by PID
#   destroy            stop, then delete the run directory
#   status             what runs, with PIDs, and Kamailio's view of the nodes
#   nodes-state        Kamailio's view only, one line per node: "<uri> <flags>" (AP = active, IP = inactive)
#   kill-node <n>      SIGKILL node n (a, b, ... or node-a): a crash
#   stop-node <n>      SIGTERM node n: a clean stop
#   start-node <n>     start node n again
#   db-stop | db-start | db-restart   the PostgreSQL instance (fast shutdown: clients are cut off)
#   psql [args]        psql on the shared database as the pjsharp role
#   pids               "<name> <pid>" of every running component
#
# Settings (environment):
#   PJSHARP_CLUSTER_DIR     run directory (default <checkout>/artifacts/cluster): PID files, logs,
#                           each node's settings, PostgreSQL's data and unix socket
#   PJSHARP_CLUSTER_PROXY   Kamailio's UDP address (default 127.0.0.10:5060)
#   PJSHARP_CLUSTER_NODES   the nodes' UDP addresses, named a, b, ... in order
#                           (default "127.0.0.11:5060 127.0.0.12:5060")
#   PJSHARP_CLUSTER_DB      PostgreSQL's TCP address (default 127.0.0.13:5432)
#   PJSHARP_CLUSTER_CONFIG  the pjsip.conf every node reads (default deploy/cluster/pjsip.conf)
#   PJSHARP_CLUSTER_TYPES   object types kept in PostgreSQL (default "contact"; e.g. "contact,endpoint,auth,aor")
#   PJSHARP_CLUSTER_SERVE_ARGS  more arguments for `pjsharp serve` (e.g. "--log-level Warning --workers 1")
#   PJSHARP_CLUSTER_KAMAILIO_ARGS  more arguments for kamailio (e.g. "-A PING_INTERVAL=2")
#   PJSHARP_CLUSTER_WORKERS Kamailio's UDP worker processes (default 4)
#   PJSHARP_SERVER          the pjsharp executable or pjsharp.dll (default: the Release, then Debug build)
#   KAMAILIO                the kamailio binary (default: on PATH, else /usr/sbin/kamailio)
#   PG_BIN                  PostgreSQL's bin directory (default: the newest /usr/lib/postgresql/*/bin)
#
# Only processes recorded in the run directory's PID files are ever signalled, and only after
# checking that the PID still runs the program started here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

run=${PJSHARP_CLUSTER_DIR:-$repo/artifacts/cluster}
proxy=${PJSHARP_CLUSTER_PROXY:-127.0.0.10:5060}
read -r -a node_addresses <<< "${PJSHARP_CLUSTER_NODES:-127.0.0.11:5060 127.0.0.12:5060}"
db=${PJSHARP_CLUSTER_DB:-127.0.0.13:5432}
config=${PJSHARP_CLUSTER_CONFIG:-$here/pjsip.conf}
types=${PJSHARP_CLUSTER_TYPES:-contact}
read -r -a serve_args <<< "${PJSHARP_CLUSTER_SERVE_ARGS:-}"
read -r -a kamailio_args <<< "${PJSHARP_CLUSTER_KAMAILIO_ARGS:-}"
workers=${PJSHARP_CLUSTER_WORKERS:-4}
kamailio_cfg=$repo/deploy/kamailio/kamailio.cfg

db_host=${db%:*}
db_port=${db##*:}
proxy_host=${proxy%:*}
db_name=pjsharp
db_role=pjsharp
db_password=pjsharp
connection_string="Host=$db_host;Port=$db_port;Username=$db_role;Password=$db_password;Database=$db_name"

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# --- names, PIDs ------------------------------------------------------------------------------

letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)

node_names() {
    local i
    for i in "${!node_addresses[@]}"; do
        echo "node-${letters[$i]}"
    done
}

node_index() {
    local wanted=${1#node-} i=0 name
    for name in $(node_names); do
        [ "${name#node-}" = "$wanted" ] && { echo "$i"; return 0; }
        i=$((i + 1))
    done
    die "no node '$1' (nodes: $(node_names | tr '\n' ' '))"
}

pid_file() { echo "$run/pids/$1.pid"; }

# What /proc/<pid>/cmdline must contain for the PID to still be ours.
marker() {
    case "$1" in
        postgres) echo "$run/pg/data" ;;
        kamailio) echo "$run/kamailio/ctl" ;;
        node-*) echo "$run/$1/settings.json" ;;
    esac
}

# The recorded PID of a component if that process still runs what was started; else nothing.
running_pid() {
    local file pid
    file=$(pid_file "$1")
    [ -f "$file" ] || return 0
    pid=$(head -n 1 "$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
    if tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$(marker "$1")"; then
        echo "$pid"
    fi
}

# True while the process runs: a zombie (killed, not yet reaped by whoever inherited it) is gone.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Sends a signal to a component by PID and waits up to <grace> seconds for it to go; SIGKILL after.
stop_component() {
    local name=$1 signal=$2 grace=$3 pid waited=0
    pid=$(running_pid "$name")
    if [ -z "$pid" ]; then
        rm -f "$(pid_file "$name")"
        return 0
    fi
    local children
    children=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr '\n' ' ' || true)
    kill "-$signal" "$pid" 2>/dev/null || true
    while alive "$pid" && [ "$waited" -lt $((grace * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if alive "$pid"; then
        say "$name (pid $pid) still runs after ${grace}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        # Its own children (Kamailio's workers, PostgreSQL's backends) would outlive it.
        for child in $children; do
            kill -KILL "$child" 2>/dev/null || true
        done
    fi
    rm -f "$(pid_file "$name")"
    say "$name stopped"
}

# --- PostgreSQL -------------------------------------------------------------------------------

pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
    else
        local found
        found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
        [ -n "$found" ] || found=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
        [ -x "$found/pg_ctl" ] || die "PostgreSQL's pg_ctl not found (install the postgresql package or set PG_BIN)"
        echo "$found"
    fi
}

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

psql_admin() {
    as_pg "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$run/pg" -p "$db_port" -U postgres -d postgres "$@"
}

db_init() {
    [ -f "$run/pg/data/PG_VERSION" ] && return 0
    say "initialising PostgreSQL in $run/pg/data"
    mkdir -p "$run/pg"
    if is_root; then
        chown postgres: "$run/pg"
    fi
    as_pg "$(pg_bin)/initdb" -D "$run/pg/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 > "$run/pg/initdb.log" 2>&1 \
        || { cat "$run/pg/initdb.log" >&2; die "initdb failed"; }
    # Loopback only, on its own address, its socket in the run directory: the system's cluster
    # (127.0.0.1:5432, /var/run/postgresql) is never touched.
    as_pg tee -a "$run/pg/data/postgresql.conf" > /dev/null <<EOF

# deploy/cluster/cluster.sh
listen_addresses = '$db_host'
port = $db_port
unix_socket_directories = '$run/pg'
max_connections = 200
EOF
    as_pg tee -a "$run/pg/data/pg_hba.conf" > /dev/null <<EOF
host all all 127.0.0.0/8 scram-sha-256
EOF
    db_start_server
    psql_admin -c "CREATE ROLE $db_role LOGIN PASSWORD '$db_password'"
    psql_admin -c "CREATE DATABASE $db_name OWNER $db_role"
}

db_start_server() {
    [ -n "$(running_pid postgres)" ] && return 0
    rm -f "$run/pg/data/postmaster.pid"
    as_pg "$(pg_bin)/pg_ctl" -D "$run/pg/data" -l "$run/pg/postgres.log" -w -t 60 start > /dev/null \
        || { tail -n 20 "$run/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
    head -n 1 "$run/pg/data/postmaster.pid" > "$(pid_file postgres)"
    say "PostgreSQL runs on $db (pid $(running_pid postgres))"
}

db_start() {
    db_init
    db_start_server
}

db_stop() {
    # SIGINT is PostgreSQL's fast shutdown: open sessions are cut off, data is flushed.
    stop_component postgres INT 30
}

# --- nodes ------------------------------------------------------------------------------------

server_command() {
    local path=${PJSHARP_SERVER:-}
    if [ -z "$path" ]; then
        for candidate in "$repo/artifacts/bin/PjSharp.Server/release/pjsharp" "$repo/artifacts/bin/PjSharp.Server/debug/pjsharp"; do
            if [ -x "$candidate" ]; then
                path=$candidate
                break
            fi
        done
    fi
    [ -n "$path" ] && [ -e "$path" ] || die "pjsharp not found: build it (./build.sh --target=Build) or set PJSHARP_SERVER"
    case "$path" in
        *.dll) echo "dotnet $path" ;;
        *) echo "$path" ;;
    esac
}

json_list() {
    local first=1 item
    printf '['
    for item in "$@"; do
        [ "$first" = 1 ] || printf ', '
        printf '"%s"' "$item"
        first=0
    done
    printf ']'
}

write_node_settings() {
    local name=$1 address=$2 dir=$run/$1
    mkdir -p "$dir"
    local IFS=','
    # shellcheck disable=SC2206
    local type_list=($types)
    unset IFS
    cat > "$dir/settings.json" <<EOF
{
  "PjSharp": {
    "NodeName": "$name",
    "Transports": ["udp:$address"],
    "ConfigFile": "$config",
    "Database": "$dir/$name.db",
    "PostgreSql": {
      "ConnectionString": "$connection_string",
      "Schema": "public",
      "Types": $(json_list "${type_list[@]}")
    },
    "Security": {
      "NonceSecret": "$(cat "$run/nonce-secret")",
      "TrustedProxies": ["$proxy_host"],
      "UnauthenticatedMethods": ["OPTIONS"]
    }
  }
}
EOF
}

start_node() {
    local name=$1 index address dir pid offset
    index=$(node_index "$name")
    name=node-${name#node-}
    address=${node_addresses[$index]}
    dir=$run/$name
    if [ -n "$(running_pid "$name")" ]; then
        say "$name already runs (pid $(running_pid "$name"))"
        return 0
    fi
    write_node_settings "$name" "$address"
    touch "$dir/node.log"
    offset=$(stat -c %s "$dir/node.log")
    local -a command
    read -r -a command <<< "$(server_command)"
    (
        cd "$dir"
        exec "${command[@]}" serve --settings "$dir/settings.json" "${serve_args[@]}" >> "$dir/node.log" 2>&1 < /dev/null
    ) &
    pid=$!
    echo "$pid" > "$(pid_file "$name")"
    echo "$offset" > "$dir/started-at-offset"
}

wait_node_ready() {
    local name=node-${1#node-} dir pid offset waited=0
    dir=$run/$name
    pid=$(head -n 1 "$(pid_file "$name")" 2>/dev/null || true)
    offset=$(cat "$dir/started-at-offset" 2>/dev/null || echo 0)
    while ! tail -c +$((offset + 1)) "$dir/node.log" | grep -qx 'ready'; do
        if [ -z "$pid" ] || ! alive "$pid"; then
            tail -c +$((offset + 1)) "$dir/node.log" | tail -n 30 >&2
            rm -f "$(pid_file "$name")"
            die "$name exited before it was ready (log: $dir/node.log)"
        fi
        if [ "$waited" -ge 600 ]; then
            tail -n 30 "$dir/node.log" >&2
            die "$name not ready after 60 s (log: $dir/node.log)"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    say "$name ready on ${node_addresses[$(node_index "$name")]} (pid $pid)"
}

# --- Kamailio ---------------------------------------------------------------------------------

kamailio_bin() {
    if [ -n "${KAMAILIO:-}" ]; then
        echo "$KAMAILIO"
    elif command -v kamailio > /dev/null 2>&1; then
        command -v kamailio
    elif [ -x /usr/sbin/kamailio ]; then
        echo /usr/sbin/kamailio
    else
        die "kamailio not found (install the kamailio package or set KAMAILIO)"
    fi
}

kamcmd_bin() {
    local beside
    beside=$(dirname "$(kamailio_bin)")/kamcmd
    if [ -x "$beside" ]; then echo "$beside"; else command -v kamcmd || true; fi
}

rpc() {
    local kamcmd
    kamcmd=$(kamcmd_bin)
    [ -n "$kamcmd" ] || die "kamcmd not found"
    "$kamcmd" -s "unix:$run/kamailio/ctl" "$@"
}

start_kamailio() {
    if [ -n "$(running_pid kamailio)" ]; then
        say "Kamailio already runs (pid $(running_pid kamailio))"
        return 0
    fi
    mkdir -p "$run/kamailio"
    local name i=0
    : > "$run/kamailio/nodes.list"
    for name in $(node_names); do
        echo "1 sip:${node_addresses[$i]} 0 0 name=$name" >> "$run/kamailio/nodes.list"
        i=$((i + 1))
    done
    rm -f "$run/kamailio/ctl"
    "$(kamailio_bin)" -DD -E -f "$kamailio_cfg" -Y "$run/kamailio" -w "$run/kamailio" \
        -A "LISTEN=udp:$proxy" -A "NODES_LIST=\"$run/kamailio/nodes.list\"" \
        -A "CTL_SOCKET=\"unix:$run/kamailio/ctl\"" -A "WORKERS=$workers" \
        "${kamailio_args[@]}" >> "$run/kamailio/kamailio.log" 2>&1 < /dev/null &
    local pid=$! waited=0
    echo "$pid" > "$(pid_file kamailio)"
    until [ -S "$run/kamailio/ctl" ] && rpc core.uptime > /dev/null 2>&1; do
        if ! alive "$pid"; then
            tail -n 30 "$run/kamailio/kamailio.log" >&2
            rm -f "$(pid_file kamailio)"
            die "Kamailio exited (log: $run/kamailio/kamailio.log)"
        fi
        [ "$waited" -lt 300 ] || die "Kamailio not ready after 30 s (log: $run/kamailio/kamailio.log)"
        sleep 0.1
        waited=$((waited + 1))
    done
    say "Kamailio runs on $proxy (pid $pid)"
}

nodes_state() {
    rpc dispatcher.list | awk '/URI:/ { uri = $2 } /FLAGS:/ { print uri, $2 }'
}

# --- commands ---------------------------------------------------------------------------------

prepare_run_dir() {
    mkdir -p "$run/pids"
    [ -f "$config" ] || die "no pjsip.conf at $config"
    if [ ! -s "$run/nonce-secret" ]; then
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$run/nonce-secret")
    fi
    case "$run$config" in
        *'"'* | *'\'*) die "paths with quotes or backslashes are not supported" ;;
    esac
}

# Whether something already listens on <address:port> (udp or tcp); unknown without ss.
in_use() {
    command -v ss > /dev/null 2>&1 || return 1
    local flag=-lun
    [ "$2" = tcp ] && flag=-ltn
    ss -H "$flag" "src $1" 2>/dev/null | grep -q .
}

# Another cluster (or anything) on our addresses would make a confusing failure later.
check_free() {
    local name=$1 address=$2 protocol=$3
    if [ -z "$(running_pid "$name")" ] && in_use "$address" "$protocol"; then
        die "$address ($protocol) for $name is already in use: another cluster run, or choose other addresses (see the header of $0)"
    fi
}

cmd_start() {
    prepare_run_dir
    check_free postgres "$db" tcp
    check_free kamailio "$proxy" udp
    local i=0 node
    for node in $(node_names); do
        check_free "$node" "${node_addresses[$i]}" udp
        i=$((i + 1))
    done
    db_start
    local name
    for name in $(node_names); do
        start_node "$name"
    done
    for name in $(node_names); do
        wait_node_ready "$name"
    done
    start_kamailio
}

cmd_stop() {
    local name
    for name in $(node_names); do
        stop_component "$name" TERM 20
    done
    stop_component kamailio TERM 10
    db_stop
}

cmd_status() {
    local name pid
    for name in postgres $(node_names) kamailio; do
        pid=$(running_pid "$name")
        if [ -n "$pid" ]; then
            echo "$name running (pid $pid)"
        else
            echo "$name stopped"
        fi
    done
    if [ -n "$(running_pid kamailio)" ]; then
        echo "Kamailio's nodes (AP = active, IP = inactive and probed):"
        nodes_state | sed 's/^/  /'
    fi
}

cmd_pids() {
    local name pid
    for name in postgres $(node_names) kamailio; do
        pid=$(running_pid "$name")
        [ -z "$pid" ] || echo "$name $pid"
    done
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    destroy) cmd_stop; rm -rf "$run"; say "removed $run" ;;
    status) cmd_status ;;
    nodes-state) nodes_state ;;
    pids) cmd_pids ;;
    kill-node)
        [ $# -eq 1 ] || die "usage: cluster.sh kill-node <node>"
        name=node-${1#node-}; node_index "$name" > /dev/null
        pid=$(running_pid "$name")
        [ -n "$pid" ] || die "$name is not running"
        kill -KILL "$pid"
        while alive "$pid"; do sleep 0.05; done
        rm -f "$(pid_file "$name")"
        say "$name killed (SIGKILL, pid $pid)"
        ;;
    stop-node)
        [ $# -eq 1 ] || die "usage: cluster.sh stop-node <node>"
        name=node-${1#node-}; node_index "$name" > /dev/null
        stop_component "$name" TERM 20
        ;;
    start-node)
        [ $# -eq 1 ] || die "usage: cluster.sh start-node <node>"
        prepare_run_dir
        start_node "$1"
        wait_node_ready "$1"
        ;;
    db-stop) db_stop ;;
    db-start) prepare_run_dir; db_start ;;
    db-restart) db_stop; prepare_run_dir; db_start ;;
    psql) PGPASSWORD=$db_password exec "$(pg_bin)/psql" -X -h "$db_host" -p "$db_port" -U "$db_role" -d "$db_name" "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
