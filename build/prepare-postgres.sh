#!/usr/bin/env bash
# Starts the Debian PostgreSQL cluster on loopback and creates the test role and database.
# Idempotent; run as root. Installs nothing: the postgresql package must already be there.
set -euo pipefail

role=${PJSHARP_PG_ROLE:-pjsharp}
password=${PJSHARP_PG_PASSWORD:-pjsharp}
database=${PJSHARP_PG_DATABASE:-pjsharp_test}

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "prepare-postgres: pg_lsclusters not found; install the Debian 'postgresql' package first" >&2
    exit 1
fi

# Prefer 15/main; otherwise the first cluster listed.
version=""; cluster=""
if pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "15 main"; then
    version=15; cluster=main
else
    read -r version cluster _ < <(pg_lsclusters -h | head -n 1) || true
fi
if [ -z "$version" ] || [ -z "$cluster" ]; then
    echo "prepare-postgres: no PostgreSQL cluster found (pg_lsclusters lists none)" >&2
    exit 1
fi

conf_dir=/etc/postgresql/$version/$cluster
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')

# Loopback only, whatever the package default was.
if [ -w "$conf_dir/postgresql.conf" ] && ! grep -qE "^listen_addresses = '127.0.0.1,::1'" "$conf_dir/postgresql.conf"; then
    sed -i -E "/^[#[:space:]]*listen_addresses[[:space:]]*=/d" "$conf_dir/postgresql.conf"
    echo "listen_addresses = '127.0.0.1,::1'" >> "$conf_dir/postgresql.conf"
    if pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
        pg_ctlcluster "$version" "$cluster" restart
    fi
fi

status=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}')
case "$status" in
    online*) ;;
    *) pg_ctlcluster "$version" "$cluster" start ;;
esac

as_postgres() { runuser -u postgres -- "$@"; }

for _ in $(seq 1 60); do
    if as_postgres pg_isready -q -h 127.0.0.1 -p "$port"; then
        break
    fi
    sleep 0.5
done
if ! as_postgres pg_isready -q -h 127.0.0.1 -p "$port"; then
    echo "prepare-postgres: cluster $version/$cluster does not accept connections on 127.0.0.1:$port" >&2
    tail -n 20 "/var/log/postgresql/postgresql-$version-$cluster.log" >&2 || true
    exit 1
fi

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

if [ "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
    psql_admin -c "CREATE ROLE \"$role\" LOGIN PASSWORD '$password'"
else
    psql_admin -c "ALTER ROLE \"$role\" LOGIN PASSWORD '$password'"
fi
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE \"$database\" OWNER \"$role\""
fi

echo "prepare-postgres: cluster $version/$cluster ready on 127.0.0.1:$port, database $database owned by $role"
