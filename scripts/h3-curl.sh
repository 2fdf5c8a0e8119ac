#!/usr/bin/env bash
# Prints the path of a curl that speaks HTTP/3 (and nothing else on stdout).
#
# The system curl is used when its features list HTTP3. Otherwise Debian
# trixie's curl (8.14: OpenSSL 3.5 QUIC, nghttp3, ngtcp2) is fetched with a
# private apt state (sources, lists, cache, status: the system's apt is not
# touched), unpacked under target/h3-curl/root, and run through that tree's
# own dynamic loader by the wrapper target/h3-curl/curl. Nothing is
# installed system-wide. Cached: a second run does no network access.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/target/h3-curl"
wrapper="$out/curl"
log() { echo "h3-curl: $*" >&2; }
has_h3() { "$1" -V 2>/dev/null | grep -q '^Features:.*HTTP3'; }

if command -v curl >/dev/null 2>&1 && has_h3 "$(command -v curl)"; then
    command -v curl
    exit 0
fi
if [ -x "$wrapper" ] && has_h3 "$wrapper"; then
    echo "$wrapper"
    exit 0
fi

command -v apt-get >/dev/null || { log "apt-get not found: install a curl with HTTP/3 and put it first on PATH"; exit 1; }
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ -x "$wrapper" ] && has_h3 "$wrapper"; then   # another caller made it meanwhile
    echo "$wrapper"
    exit 0
fi

work="$(mktemp -d "$out/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{lists/partial,cache/archives/partial,parts,debs,root}
touch "$work/status"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { log "$keyring missing (package debian-archive-keyring)"; exit 1; }
cat >"$work/sources.list" <<SOURCES
deb [signed-by=$keyring] http://deb.debian.org/debian trixie main
SOURCES
apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=$work/parts"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::State::status=$work/status"
    -o "Dir::Cache=$work/cache"
    -o "APT::Architecture=amd64"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
)
log "fetching trixie package lists (private apt state)"
apt-get "${apt_opts[@]}" update -qq >&2

# The runtime closure of curl: every package it needs, recursively.
# Essential/base packages the loader does not need are skipped.
mapfile -t pkgs < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances curl \
    | grep -E '^[a-z0-9]' | sort -u \
    | grep -vE '^(debconf|debconf-2.0|dpkg|perl-base|install-info|base-files|tar|coreutils|bash|dash|sed|grep|findutils|diffutils|util-linux|mount|login|passwd|adduser|init-system-helpers|sensible-utils|ca-certificates|openssl|openssl-provider-legacy|libc-bin|gcc-14-base|usrmerge|usr-is-merged|debianutils|readline-common|krb5-config|libkrb5-dev|libgssapi-krb5-2-dev|libpam-modules.*|libpam-runtime|libpam0g|libsemanage.*|libaudit.*|libcap-ng0|libselinux1|libacl1|libattr1|libsmartcols1|libtinfo6|libcrypt1|libmd0|libbsd0|netbase|libsasl2-modules.*)$')
log "downloading ${#pkgs[@]} packages: ${pkgs[*]}"
(cd "$work/debs" && apt-get "${apt_opts[@]}" download "${pkgs[@]}" >&2)
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done

cat >"$work/curl" <<'WRAPPER'
#!/bin/sh
# Runs Debian trixie's curl with its own loader and libraries (made by
# scripts/h3-curl.sh). Relocatable: paths are found from this file.
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/root"
libs="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
exec "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$libs" "$root/usr/bin/curl" "$@"
WRAPPER
chmod +x "$work/curl"
if ! has_h3 "$work/curl"; then
    log "the unpacked curl does not run or lacks HTTP3:"
    "$work/curl" -V >&2 || true
    exit 1
fi
rm -rf "$out/root" "$out/curl"
mv "$work/root" "$out/root"
mv "$work/curl" "$out/curl"
log "ready: $("$wrapper" -V | head -1)"
echo "$wrapper"
