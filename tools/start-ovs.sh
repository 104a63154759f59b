#!/usr/bin/env bash
# Starts a private Open vSwitch (ovsdb-server + ovs-vswitchd) in DIR with the
# userspace datapath, for tests on hosts without the OVS kernel module, and
# creates the bridge br-int (datapath_type=netdev) on it. Idempotent.
# Prints the OVSDB connection string for [novadock] ovsdb_connection.
set -euo pipefail
DIR=${1:?usage: start-ovs.sh DIR [BRIDGE]}
BRIDGE=${2:-br-int}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
DB="unix:$DIR/db.sock"
export OVS_RUNDIR="$DIR" OVS_LOGDIR="$DIR" OVS_DBDIR="$DIR"
alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }
if ! alive ovsdb-server; then
    [ -f "$DIR/conf.db" ] || ovsdb-tool create "$DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$DIR/conf.db" --remote="punix:$DIR/db.sock" --pidfile="$DIR/ovsdb-server.pid" \
        --unixctl="$DIR/ovsdb-server.ctl" --log-file="$DIR/ovsdb-server.log" --detach
    ovs-vsctl --db="$DB" --no-wait init
fi
if ! alive ovs-vswitchd; then
    ovs-vswitchd "$DB" --pidfile="$DIR/ovs-vswitchd.pid" --unixctl="$DIR/ovs-vswitchd.ctl" \
        --log-file="$DIR/ovs-vswitchd.log" --detach
fi
ovs-vsctl --db="$DB" --timeout=10 -- --may-exist add-br "$BRIDGE" -- set Bridge "$BRIDGE" datapath_type=netdev
echo "$DB"
