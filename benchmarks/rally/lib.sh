# shellcheck shell=bash
# Rally's set-up shared by run.sh and multihost.sh: rally-openstack 4.1.0 in
# its own venv, a database and an environment from the cloud's openrc
# (admin), the poll intervals of rally.conf. Needs cloud/lib/common.sh and
# the openrc sourced.

RALLY_VENV=$CLOUD_DIR/rally-venv

# rally_setup OUT: installs Rally if missing and makes a fresh database in OUT.
rally_setup() {
    local out=$1 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    mkdir -p "$out"
    if ! "$RALLY_VENV/bin/python" -c "import rally_openstack" 2>/dev/null; then
        cloud_log "rally: installing rally-openstack==4.1.0 into $RALLY_VENV"
        python3 -m venv "$RALLY_VENV"
        "$RALLY_VENV/bin/pip" install -q --upgrade pip
        "$RALLY_VENV/bin/pip" install -q rally-openstack==4.1.0
    fi
    RALLY_CONF=$out/rally.conf
    {
        cat "$here/rally.conf"
        printf '[database]\nconnection = sqlite:///%s/rally.sqlite\n' "$out"
    } >"$RALLY_CONF"
    rm -f "$out/rally.sqlite"
    rally db create >/dev/null
    rally env create --from-sysenv --name novadock-cloud >/dev/null
}

rally() { "$RALLY_VENV/bin/rally" --config-file "$RALLY_CONF" "$@"; }

# rally_task TASK ARGS OUT NAME: runs TASK, writes OUT/NAME.json and .html.
rally_task() {
    local task=$1 args=$2 out=$3 name=$4 here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    cloud_log "rally: running $task ($args)"
    rally --plugin-paths "$here/plugins" task start "$task" --task-args "$args" \
        | tee "$out/$name.log" | grep -E "^(Task|  )" | tail -5 || true
    rally task report --json --out "$out/$name.json" >/dev/null
    rally task report --html-static --out "$out/$name.html" >/dev/null
}
