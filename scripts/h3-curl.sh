#!/usr/bin/env bash
# Prints the path of a curl that speaks HTTP/3, and nothing else on stdout
# (progress and errors go to stderr).
#
#   MIRRORGATE_H3_CURL="$(scripts/h3-curl.sh)"
#
# 1. The system curl, when `curl -V` lists HTTP3 in its Features.
# 2. Otherwise Debian trixie's curl (8.14: OpenSSL 3.5 QUIC + nghttp3),
#    made once under target/h3-curl/ and reused (no network once made):
#    - a private apt state (sources, lists, cache, status, preferences,
#      config hooks) under target/h3-curl/.work.*: the system's apt state
#      (/var/lib/apt, /var/cache/apt, /etc/apt) is read for settings such as
#      proxies but never written, and nothing is installed system-wide;
#    - trixie's signatures are verified with
#      /usr/share/keyrings/debian-archive-keyring.gpg, or, when that keyring
#      is too old to know trixie's keys, with the newest
#      debian-archive-keyring package of the system's own release (itself
#      verified by the system keyring);
#    - curl and its run-time dependency closure (Depends/Pre-Depends,
#      recursively) are downloaded and unpacked into target/h3-curl/root;
#    - target/h3-curl/curl, a wrapper, runs root/usr/bin/curl through the
#      tree's own dynamic loader and libraries. It finds the tree from its own
#      location, so the directory can be moved.
#    The tree is built in a temporary directory and the wrapper is moved into
#    place last, so an interrupted run never leaves a tree that looks made;
#    a lock (flock) keeps concurrent callers from building it twice.
set -euo pipefail
shopt -s inherit_errexit # also inside $(...)

exec 3>&1 1>&2 # stdout is for the path only: everything else goes to stderr

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
out="$repo/target/h3-curl"
wrapper="$out/curl"
system_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=http://deb.debian.org/debian

log() { echo "h3-curl: $*" >&2; }
die() {
    echo "h3-curl: error: $*" >&2
    exit 1
}
# has_h3 CURL: CURL runs and `CURL -V` lists HTTP3 among its features.
has_h3() {
    local v
    v="$("$1" -V 2>/dev/null)" || return 1
    grep -Eq '^Features:(.* )?HTTP3( |$)' <<<"$v"
}
found() {
    echo "$1" >&3
    exit 0
}

# 1. The system curl.
if sys_curl="$(command -v curl)" && has_h3 "$sys_curl"; then
    found "$sys_curl"
fi
# Already made.
if [ -x "$wrapper" ] && has_h3 "$wrapper"; then
    found "$wrapper"
fi

# 2. Make it.
for tool in apt-get apt-cache dpkg dpkg-deb flock mktemp; do
    command -v "$tool" >/dev/null ||
        die "'$tool' not found: this needs a Debian system (or put a curl with HTTP3 first on PATH)"
done
arch="$(dpkg --print-architecture)"
[ "$arch" = amd64 ] || die "only amd64 is supported (this is $arch): put a curl with HTTP3 first on PATH"
[ -r "$system_keyring" ] || die "$system_keyring is missing (package debian-archive-keyring)"

mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -n 9; then
    log "waiting for another h3-curl.sh run to finish"
    flock -w 1800 9 || die "timed out waiting for the lock $out/.lock"
fi
if [ -x "$wrapper" ] && has_h3 "$wrapper"; then # made by that other run
    found "$wrapper"
fi
rm -rf "$out"/.work.* # left by runs that were killed (we hold the lock)
work="$(mktemp -d "$out/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
started=$SECONDS

# apt_init DIR SOURCES-LINE...: a private apt state in DIR.
apt_init() {
    local dir="$1" line
    shift
    mkdir -p "$dir"/{lists/partial,cache/archives/partial,state,parts,prefs,trusted,debs}
    : >"$dir/status"
    for line in "$@"; do echo "$line"; done >"$dir/sources.list"
    # Read after the system's apt.conf.d (which may carry proxy settings):
    # drops its hooks, which would act on the system's state (e.g. docker's
    # "apt-get clean" after update), and index targets beyond Packages.
    {
        [ -f /etc/apt/apt.conf ] && echo '#include "/etc/apt/apt.conf";'
        cat <<'CONF'
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
#clear APT::Architectures;
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Acquire::Languages "none";
CONF
    } >"$dir/main.conf"
    echo "Dir::Etc::Main \"$dir/main.conf\";" >"$dir/apt.conf"
}
# apt_in DIR COMMAND ARGS...: runs apt-get/apt-cache on the private state in DIR.
apt_in() {
    local dir="$1" cmd="$2"
    shift 2
    APT_CONFIG="$dir/apt.conf" "$cmd" -q \
        -o "Dir::State=$dir/state" \
        -o "Dir::State::Lists=$dir/lists" \
        -o "Dir::State::status=$dir/status" \
        -o "Dir::Cache=$dir/cache" \
        -o "Dir::Etc::SourceList=$dir/sources.list" \
        -o "Dir::Etc::SourceParts=$dir/parts" \
        -o "Dir::Etc::Preferences=$dir/preferences" \
        -o "Dir::Etc::PreferencesParts=$dir/prefs" \
        -o "Dir::Etc::Trusted=$dir/trusted.gpg" \
        -o "Dir::Etc::TrustedParts=$dir/trusted" \
        -o "APT::Architecture=$arch" \
        -o "APT::Architectures::=$arch" \
        -o "APT::Sandbox::User=root" \
        -o "Acquire::Retries=3" \
        -o "Debug::NoLocking=true" \
        "$@"
}
# apt_update DIR: apt-get update on DIR; output kept in DIR/update.log.
apt_update() {
    apt_in "$1" apt-get update 2>&1 | tee "$1/update.log"
}
is_signature_failure() {
    grep -Eqi 'NO_PUBKEY|EXPKEYSIG|KEYEXPIRED|REVKEYSIG|BADSIG|not signed|signatures? (couldn.t|could not|were invalid)|public key is not available|OpenPGP' "$1"
}

# The newest debian-archive-keyring of the system's own release, verified with
# the system keyring; prints the path of its keyring file.
newer_keyring() {
    local dir="$work/keyring" codename="" file
    # shellcheck source=/dev/null
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" || true
    [ -n "$codename" ] || codename=bookworm
    log "fetching $codename's newest debian-archive-keyring (verified with $system_keyring)"
    apt_init "$dir" \
        "deb [signed-by=$system_keyring] $mirror $codename main" \
        "deb [signed-by=$system_keyring] $mirror $codename-updates main"
    # apt keeps no list it could not verify: a failure of one suite leaves
    # the other usable, and the download below fails if neither is.
    apt_update "$dir" >&2 || log "apt-get update for $codename had errors (see above); trying what verified"
    (cd "$dir/debs" && apt_in "$dir" apt-get download debian-archive-keyring) >&2 ||
        die "downloading debian-archive-keyring from $codename failed (see above): cannot verify trixie"
    dpkg-deb -x "$dir"/debs/debian-archive-keyring_*.deb "$dir/root"
    for file in "$dir"/root/usr/share/keyrings/debian-archive-keyring.{gpg,pgp}; do
        [ -s "$file" ] && { echo "$file"; return 0; }
    done
    die "no keyring found in $(basename "$dir"/debs/debian-archive-keyring_*.deb)"
}

# Trixie's package lists, verified.
trixie="$work/trixie"
keyring="$system_keyring"
apt_init "$trixie" "deb [signed-by=$keyring] $mirror trixie main"
log "fetching trixie's package lists (private apt state in $work)"
if ! apt_update "$trixie"; then
    is_signature_failure "$trixie/update.log" ||
        die "apt-get update for trixie failed (see above)"
    log "$system_keyring cannot verify trixie (an older debian-archive-keyring?)"
    keyring="$(newer_keyring)"
    apt_init "$trixie" "deb [signed-by=$keyring] $mirror trixie main"
    log "fetching trixie's package lists again, verified with $keyring"
    apt_update "$trixie" || die "apt-get update for trixie failed even with $keyring (see above)"
fi

# curl's run-time closure: Depends and Pre-Depends, recursively, real
# packages only (a virtual name has no Package: stanza). Packages that ship
# no libraries curl loads (and would only be pulled in by maintainer
# scripts) are left out; the check below catches anything missing.
mapfile -t closure < <(apt_in "$trixie" apt-cache depends --recurse --important curl |
    grep -E '^[a-z0-9]' | sort -u)
[ ${#closure[@]} -gt 0 ] || die "apt-cache depends found nothing for curl in trixie"
mapfile -t pkgs < <(apt_in "$trixie" apt-cache show --no-all-versions "${closure[@]}" 2>/dev/null |
    awk '/^Package:/ { print $2 }' | sort -u |
    grep -Evx 'debconf|cdebconf|dpkg|perl-base|adduser|passwd|login|base-files|base-passwd|usrmerge|usr-is-merged|init-system-helpers|libc-bin|coreutils|bash|dash|tar|sed|grep|findutils|debianutils|util-linux')
log "downloading ${#pkgs[@]} packages: ${pkgs[*]}"
(cd "$trixie/debs" && apt_in "$trixie" apt-get download "${pkgs[@]}") ||
    die "apt-get download from trixie failed (see above)"

# Unpack into a tree with its wrapper (the wrapper is moved into place last).
tree="$work/tree"
mkdir -p "$tree/root"
for deb in "$trixie"/debs/*.deb; do
    dpkg-deb -x "$deb" "$tree/root"
    echo "${deb##*/}" >>"$tree/root/.h3-curl-packages" # what it was made of
done
lib="$tree/root/usr/lib/x86_64-linux-gnu"
[ -x "$tree/root/usr/bin/curl" ] || die "trixie's curl package has no usr/bin/curl"
[ -x "$lib/ld-linux-x86-64.so.2" ] || die "trixie's libc6 has no usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"

cat >"$tree/curl" <<'WRAPPER'
#!/bin/sh
# Debian trixie's curl (HTTP/3), made by scripts/h3-curl.sh: runs root/usr/bin/curl
# with the tree's own dynamic loader and libraries, all arguments passed through.
# Relocatable: the tree is found from this file's own location.
here="$(dirname "$(readlink -f "$0")")"
root="$here/root"
lib="$root/usr/lib/x86_64-linux-gnu"
# OpenSSL 3.5's own providers, not the system's (OpenSSL 3.0 on bookworm).
OPENSSL_MODULES="$lib/ossl-modules"
export OPENSSL_MODULES
exec "$lib/ld-linux-x86-64.so.2" --argv0 "$0" --library-path "$lib:$root/lib/x86_64-linux-gnu" \
    "$root/usr/bin/curl" "$@"
WRAPPER
chmod 755 "$tree/curl"

# Every library curl loads must come from the tree, not from the system.
deps="$("$lib/ld-linux-x86-64.so.2" --list --library-path "$lib:$tree/root/lib/x86_64-linux-gnu" \
    "$tree/root/usr/bin/curl" 2>&1)" || die "trixie's curl does not load:
$deps"
outside="$(grep -E '=> ' <<<"$deps" | grep -Fv "=> $tree/root/" || true)"
[ -z "$outside" ] || die "libraries missing from the trixie closure (not found, or taken from the system):
$outside"
if ! has_h3 "$tree/curl"; then
    echo "h3-curl: $tree/curl -V says:"
    "$tree/curl" -V || true
    die "trixie's curl does not run, or does not list HTTP3 in its Features"
fi

# Into place: wrapper out first, tree swapped, wrapper in last (a rename).
rm -f "$wrapper"
[ ! -e "$out/root" ] || mv "$out/root" "$work/old-root"
mv "$tree/root" "$out/root"
mv "$tree/curl" "$wrapper"
has_h3 "$wrapper" || die "$wrapper -V does not list HTTP3 after moving it into place"
version="$("$wrapper" -V)"
log "made in $((SECONDS - started)) s: ${version%%$'\n'*}"
found "$wrapper"
