# Shared by the project-local tool installers (py-tools.sh, oha.sh):
# sourced, not run. Set TOOL (the name in messages) first.
#
# Their stdout carries only the tool's path: `exec 3>&1 1>&2` moves
# everything else to stderr, and `found PATH` prints the path on fd 3.

log() { echo "$TOOL: $*" >&2; }
die() {
    echo "$TOOL: error: $*" >&2
    exit 1
}
found() {
    echo "$1" >&3
    exit 0
}

# Takes the lock file $1 on fd 9 for the rest of the script, waiting at
# most $2 seconds for another run (which may finish the job meanwhile).
take_lock() {
    command -v flock >/dev/null || die "flock not found (package util-linux)"
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    if ! flock -n 9; then
        log "waiting for another $TOOL run to finish"
        flock -w "$2" 9 || die "timed out waiting for the lock $1"
    fi
}
