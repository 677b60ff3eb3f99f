#!/bin/bash
# build-images.sh - build, from Debian packages alone, every image Kaiin's compose file needs
# besides its own services: a minimal Debian base (debootstrap, then `docker import`) and, on it,
# PostgreSQL 15, Redis 7 and an SMTP sink with a web UI. No image registry is used.
#
#   deploy/build-images.sh                 build what is missing (existing images are kept)
#   deploy/build-images.sh --rebuild       build everything again, from nothing
#   deploy/build-images.sh --env-file F    also write BASE_IMAGE=... lines for compose into F
#
# Settings (environment):
#   DEBIAN_MIRROR     the Debian archive (default: the first one in this machine's apt sources)
#   DEBIAN_SECURITY   the security archive (default: from apt sources too; "none" leaves it out)
#   DEBIAN_SUITE      bookworm
#   KAIIN_IMAGE_PREFIX  kaiin  (tags: kaiin/debian:bookworm, kaiin/postgres:15, kaiin/redis:7,
#                              kaiin/smtp-sink:1)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rebuild=0 env_file=
while [ $# -gt 0 ]; do
    case $1 in
    --rebuild) rebuild=1 ;;
    --env-file) env_file=${2:?--env-file needs a path}; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

suite=${DEBIAN_SUITE:-bookworm}
prefix=${KAIIN_IMAGE_PREFIX:-kaiin}
base_tag=$prefix/debian:$suite
postgres_tag=$prefix/postgres:15
redis_tag=$prefix/redis:7
smtp_tag=$prefix/smtp-sink:1

# The archives this machine's apt already uses: one-line (sources.list) and deb822 (*.sources).
apt_uris() {
    {
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }'
    } | sed 's:/*$::'
}
mirror=${DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian$' | head -1 || true)}
security=${DEBIAN_SECURITY:-$(apt_uris | grep -E '/debian-security$' | head -1 || true)}
[ -n "$mirror" ] || { echo "no Debian mirror found in /etc/apt; set DEBIAN_MIRROR" >&2; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timings=()

build_base() {
    if [ $rebuild = 0 ] && have_image "$base_tag"; then echo "== $base_tag exists (--rebuild to redo)"; return; fi
    command -v debootstrap >/dev/null || {
        echo "== installing debootstrap"; apt-get install -y --no-install-recommends debootstrap >/dev/null; }
    local start; start=$(now)
    local root; root=$(mktemp -d /tmp/kaiin-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "== debootstrap --variant=minbase $suite from $mirror"
    debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
        { tail -30 "$root.log" >&2; exit 1; }
    rm -f "$root.log"

    # apt inside the image uses the same archives; no recommends, no docs, no man pages.
    {
        echo "deb $mirror $suite main"
        echo "deb $mirror $suite-updates main"
        [ -n "$security" ] && [ "$security" != none ] && echo "deb $security $suite-security main"
    } >"$root/etc/apt/sources.list"
    cat >"$root/etc/apt/apt.conf.d/90kaiin" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
    cat >"$root/etc/dpkg/dpkg.cfg.d/90kaiin-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CONF
    # Daemons installed in a build must not start (PostgreSQL's package would start a cluster).
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$root"/usr/share/{man,info,lintian,linda}/* \
        "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history "$root"/var/lib/dpkg/*-old
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
    : >"$root/etc/machine-id"; rm -f "$root/etc/hostname"; : >"$root/etc/resolv.conf"

    echo "== docker import -> $base_tag"
    tar -C "$root" --numeric-owner -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["bash"]' \
        --message "Debian $suite minbase from $mirror, built by deploy/build-images.sh" \
        - "$base_tag" >/dev/null
    rm -rf "$root"; trap - EXIT
    timings+=("base image: $(elapsed "$start") s")
}

build_on_base() {  # tag directory
    local tag=$1 dir=$2
    if [ $rebuild = 0 ] && have_image "$tag"; then echo "== $tag exists (--rebuild to redo)"; return; fi
    local start; start=$(now)
    echo "== docker build $tag ($dir)"
    local log; log=$(mktemp /tmp/kaiin-build.XXXXXX)
    docker build --build-arg BASE_IMAGE="$base_tag" -t "$tag" "$dir" >"$log" 2>&1 ||
        { tail -40 "$log" >&2; rm -f "$log"; echo "docker build $tag failed" >&2; exit 1; }
    rm -f "$log"
    timings+=("$tag: $(elapsed "$start") s")
}

total_start=$(now)
build_base
build_on_base "$postgres_tag" "$here/postgres"
build_on_base "$redis_tag" "$here/redis"
build_on_base "$smtp_tag" "$here/smtp-sink"

echo
echo "== built in $(elapsed "$total_start") s"
for t in "${timings[@]}"; do echo "   $t"; done
echo "== image sizes"
for tag in "$base_tag" "$postgres_tag" "$redis_tag" "$smtp_tag"; do
    printf '   %-28s %s\n' "$tag" "$(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
done

settings="BASE_IMAGE=$base_tag
POSTGRES_IMAGE=$postgres_tag
REDIS_IMAGE=$redis_tag
SMTP_IMAGE=$smtp_tag"
echo "== for docker-compose (put these in .env, or export them):"
echo "$settings" | sed 's/^/   /'
if [ -n "$env_file" ]; then echo "$settings" >"$env_file"; fi
