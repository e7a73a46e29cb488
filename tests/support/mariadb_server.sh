#!/bin/sh
# A private MariaDB server for the tests: `mariadb_server.sh start DIR` builds a data directory
# under DIR, starts mariadbd on DIR/mysqld.sock with no TCP port, creates the two accounts the
# ledger uses and writes their option files; `mariadb_server.sh stop DIR` stops it by its PID
# and removes DIR. ctest runs them once per test run as the fixture "mariadb" (FIXTURES_SETUP /
# FIXTURES_CLEANUP), not once per test.
#
# What the tests read from DIR:
#   admin.cnf  the database's root account (the test's stand-in for the admin who runs
#              'gpuslots db init'): [client] socket, user root
#   db.cnf     the writer account "gpuslots_rw" (SELECT, INSERT, UPDATE, DELETE on gt_%)
#   read.cnf   the read account "gpuslots_ro" (EXECUTE on gt_%: the status procedure only)
#   unavailable  written instead of the above when no server could be started: one line, why.
#                The MariaDB tests then skip (exit 77) and print it.
#
# For the outage tests, on a server of their own: `mariadb_server.sh pause DIR` stops mariadbd
# by its PID and keeps DIR (clients then get "can't connect"); `resume DIR` starts it again on
# the same data and returns once it answers.
#
# Start-up: mariadb-install-db about 1.6 s here, the server a few hundred ms more. A small redo
# log keeps the data directory at about 34 MB.
set -u
cmd=${1:?usage: mariadb_server.sh start|stop DIR}
dir=${2:?usage: mariadb_server.sh start|stop DIR}

give_up() {
    mkdir -p "$dir"
    echo "$*" >"$dir/unavailable"
    echo "SKIP: MariaDB tests will be skipped: $*"
    exit 0  # the setup itself succeeds: the tests that need the server skip with the reason
}

stop_server() {
    if [ -f "$dir/mysqld.pid" ]; then
        pid=$(cat "$dir/mysqld.pid")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$dir/mysqld.pid" "$dir/mysqld.sock"
}

stop() {
    stop_server
    rm -rf "$dir"
}

# mariadbd on $dir's data, in the background; returns once its socket and PID file are there.
run_server() {
    "$mariadbd" $common $user_opt --skip-networking --socket="$sock" --pid-file="$dir/mysqld.pid" \
        --log-error="$dir/error.log" --event-scheduler=ON --innodb-buffer-pool-size=64M \
        --max-connections=500 >/dev/null 2>&1 &
    i=0
    until [ -S "$sock" ] && [ -f "$dir/mysqld.pid" ]; do
        sleep 0.05
        i=$((i + 1))
        [ $i -lt 600 ] || return 1
    done
}

mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
sock="$dir/mysqld.sock"
user_opt=""
[ "$(id -u)" = 0 ] && user_opt="--user=root"
common="--no-defaults --datadir=$dir/data --innodb-log-file-size=16M"

case $cmd in
stop)
    stop
    exit 0
    ;;
pause)
    stop_server
    exit 0
    ;;
resume)
    [ -d "$dir/data" ] || { echo "no server data in $dir" >&2; exit 1; }
    stop_server
    run_server || { echo "mariadbd did not start again: $(tail -n 1 "$dir/error.log")" >&2; exit 1; }
    exit 0
    ;;
start) ;;
*)
    echo "usage: mariadb_server.sh start|stop|pause|resume DIR" >&2
    exit 2
    ;;
esac

stop  # a server left by an interrupted run
mkdir -p "$dir/data" || give_up "cannot create $dir"
for tool in mariadb-install-db mariadbd mariadb; do
    command -v $tool >/dev/null 2>&1 || [ -x /usr/sbin/$tool ] ||
        give_up "$tool not found (apt-get install mariadb-server)"
done
# The socket path must fit in sun_path (108 bytes).
[ ${#sock} -lt 100 ] || give_up "socket path $sock is too long for a Unix socket"

if ! mariadb-install-db $common $user_opt --auth-root-authentication-method=socket \
    --skip-test-db >"$dir/install.log" 2>&1; then
    give_up "mariadb-install-db failed: $(tail -n 1 "$dir/install.log")"
fi
# The server starts in the background; its PID file says when it is up.
run_server || give_up "mariadbd did not start within 30 s: $(tail -n 1 "$dir/error.log")"

cat >"$dir/admin.cnf" <<EOF
[client]
socket=$sock
user=root
EOF
cat >"$dir/db.cnf" <<EOF
[client]
socket=$sock
user=gpuslots_rw
password=rw-secret
EOF
cat >"$dir/read.cnf" <<EOF
[client]
socket=$sock
user=gpuslots_ro
password=ro-secret
EOF
chmod 0600 "$dir/admin.cnf" "$dir/db.cnf"
chmod 0644 "$dir/read.cnf"
chmod 0755 "$dir"
# The accounts as README "One ledger for the cluster" tells an admin to create them, on the
# test databases gt_* (one per test ledger).
if ! mariadb --defaults-file="$dir/admin.cnf" >"$dir/accounts.log" 2>&1 <<'EOF'; then
CREATE USER gpuslots_rw@localhost IDENTIFIED BY 'rw-secret';
GRANT SELECT, INSERT, UPDATE, DELETE ON `gt\_%`.* TO gpuslots_rw@localhost;
CREATE USER gpuslots_ro@localhost IDENTIFIED BY 'ro-secret';
GRANT EXECUTE ON `gt\_%`.* TO gpuslots_ro@localhost;
EOF
    give_up "cannot create the test accounts: $(tail -n 1 "$dir/accounts.log")"
fi
echo "mariadbd $(cat "$dir/mysqld.pid") on $sock"
