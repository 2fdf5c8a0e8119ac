# shellcheck shell=bash
# Shared by the project-local tool installers (py-tools.sh, oha.sh,
# fuzz.sh, module-cycles.sh):
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

# cargo_install_once CRATE VERSION ROOT WAIT: `cargo install CRATE@VERSION`
# (--locked) into ROOT/bin, unless ROOT/bin/CRATE already says it is that
# version; so a second run installs nothing. Under the lock
# ROOT/../.NAME.lock (waiting at most WAIT seconds for another run), and
# the build folder is removed afterwards.
cargo_install_once() {
    local crate="$1" version="$2" root="$3" wait="$4" started
    if ! installed_version "$crate" "$version" "$root"; then
        take_lock "$(dirname "$root")/.$(basename "$root").lock" "$wait"
        if ! installed_version "$crate" "$version" "$root"; then # not made meanwhile
            log "installing $crate $version into $root"
            started=$(date +%s)
            cargo install "$crate@$version" --locked --force \
                --root "$root" --target-dir "$root/build" ||
                die "cargo install $crate@$version failed (see above); it needs crates.io"
            rm -rf "$root/build"
            installed_version "$crate" "$version" "$root" ||
                die "$root/bin/$crate is not $crate $version"
            log "installed $crate in $(($(date +%s) - started)) s"
        fi
        flock -u 9
    fi
}

# True if ROOT/bin/CRATE exists and `--version` prints "CRATE VERSION".
installed_version() {
    [ -x "$3/bin/$1" ] && [ "$("$3/bin/$1" --version 2>/dev/null)" = "$1 $2" ]
}
