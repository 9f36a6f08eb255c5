#!/bin/sh
# Entrypoint of the bed's PostgreSQL image (busybox sh, FROM scratch). It follows the official
# postgres image's docker-entrypoint.sh: as root it fixes ownership of $PGDATA and the socket
# directory and re-executes itself as `postgres`; on first start (no $PGDATA/PG_VERSION) it runs
# initdb with POSTGRES_USER / POSTGRES_PASSWORD, creates POSTGRES_DB and runs
# /docker-entrypoint-initdb.d/*; then it execs postgres, listening on 127.0.0.1 only.
# It only writes to $PGDATA, /var/run/postgresql and /tmp, so a read-only root works.
set -eu

SELF=/usr/local/bin/docker-entrypoint.sh

log() { printf '%s\n' "$*"; }

# file_env VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE (official image).
file_env() {
	var=$1
	def=${2:-}
	eval "val=\${$var:-} file=\${${var}_FILE:-}"
	if [ -n "$val" ] && [ -n "$file" ]; then
		log "error: both $var and ${var}_FILE are set (but are exclusive)" >&2
		exit 1
	fi
	if [ -n "$file" ]; then val=$(cat "$file"); elif [ -z "$val" ]; then val=$def; fi
	export "$var=$val"
	unset "${var}_FILE" || :
}

# `docker run image -c foo=bar` means `postgres -c foo=bar`.
if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 3775 /var/run/postgresql || :
	find "$PGDATA" ! -user postgres -exec chown postgres:postgres {} +
	find /var/run/postgresql ! -user postgres -exec chown postgres:postgres {} + || :
	# busybox su, run by root, needs no setuid bit and no password: it only drops privileges,
	# so it also works under no-new-privileges (like gosu in the official image).
	# `--`: busybox su would take a later `-c port=…` (postgres's own option) for its own -c.
	exec su -s /bin/sh postgres -c 'exec "$0" "$@"' -- "$SELF" "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
	found=$(cat "$PGDATA/PG_VERSION")
	if [ "$found" != "$PG_MAJOR" ]; then
		# What the real server says when the data directory is from another major version.
		log "$(date -u '+%Y-%m-%d %H:%M:%S.000 UTC') [1] FATAL:  database files are incompatible with server" >&2
		log "$(date -u '+%Y-%m-%d %H:%M:%S.000 UTC') [1] DETAIL:  The data directory was initialized by PostgreSQL version $found, which is not compatible with this version $PG_VERSION." >&2
		exit 1
	fi
else
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
	auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

	# POSTGRES_INITDB_ARGS is split on spaces, as in the official image.
	# shellcheck disable=SC2086
	if [ -n "$POSTGRES_PASSWORD" ]; then
		printf '%s\n' "$POSTGRES_PASSWORD" | initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin \
			--locale=C -E UTF8 --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS
	else
		initdb --username="$POSTGRES_USER" --locale=C -E UTF8 --auth-local=trust --auth-host="$auth" \
			$POSTGRES_INITDB_ARGS
	fi
	printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '127.0.0.1'\n" >> "$PGDATA/postgresql.conf"

	# A temporary server on the unix socket only, to create the database and run init scripts.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
	export PGUSER="${PGUSER:-$POSTGRES_USER}" PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
	psql_init() { psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "$POSTGRES_USER" "$@"; }
	exists=$(psql_init --dbname postgres -tA --set db="$POSTGRES_DB" <<-'EOSQL'
		SELECT 1 FROM pg_database WHERE datname = :'db' ;
	EOSQL
	)
	if [ -z "$exists" ]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		log
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) log "$0: running $f"; . "$f" ;;
			*.sql) log "$0: running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f"; log ;;
			*.sql.gz) log "$0: running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB"; log ;;
			*) if [ -e "$f" ]; then log "$0: ignoring $f"; fi ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	log
	log 'PostgreSQL init process complete; ready for start up.'
	log
fi

shift
exec postgres -c listen_addresses=127.0.0.1 "$@"
