#!/usr/bin/env bash
# Prepares the example platform's Kafka broker image from Apache Kafka's own artifacts:
#   1. the broker's jars from Maven Central, with Maven (pom.xml beside this script, pinned version);
#   2. a Debian 12 root filesystem with OpenJDK 17's headless JRE, by debootstrap;
#   3. a Docker build context joining them with this folder's entrypoint (kafka-run), which reads
#      the KAFKA_* variables the official apache/kafka image documents.
# Each part is cached in the project cache's kafka/ folder ($LCM_CACHE_DIR, default
# ~/.cache/life-cycle-manager, as local/azure/vm/images.ts) and made only once; nothing else is
# downloaded. Without arguments it only fills the cache (`npm run setup` does that; the local VMs'
# registry serves the two tars as the image's layers). With --docker-host unix:///path.sock
# (repeatable) it also builds the image, tagged apache/kafka:$KAFKA_VERSION, into that Docker
# daemon. Needs maven and debootstrap (scripts/setup.sh installs them). Prints the build context's
# path last.
#   usage: build.sh [--docker-host unix:///run/x.sock]...
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${LCM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/life-cycle-manager}/kafka
hosts=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --docker-host) hosts+=("$2"); shift ;;
    *) echo "build.sh: unknown argument '$1' (expected --docker-host URL)" >&2; exit 2 ;;
  esac
  shift
done
say() { echo "kafka image: $*" >&2; }
mkdir -p "$cache"
# One build at a time (tests and npm start may ask at once); the others then find it cached.
exec 9>"$cache/.lock"
flock 9

# 1. Kafka's jars (and its logging backend) into kafka-$VERSION/libs, as in Kafka's own distribution.
home="$cache/kafka-$KAFKA_VERSION"
if [[ ! -f "$home/.complete" ]]; then
  command -v mvn >/dev/null || { echo "build.sh: maven is not installed (run \`npm run setup\`, or apt-get install maven)" >&2; exit 1; }
  say "fetching Apache Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$home" && mkdir -p "$home/bin" "$home/config"
  mvn -B -q -f "$here/pom.xml" -Dmaven.repo.local="$cache/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$home/libs" >&2
  touch "$home/.complete"
fi
# The entrypoint and logging config are the project's: refreshed on every run (cheap).
install -C -m 0755 "$here/kafka-run" "$home/bin/kafka-run"
install -C -m 0644 "$here/log4j.properties" "$home/config/log4j.properties"

# 2. Debian 12 with the headless JRE, tarred once; an unprivileged user like the official image's.
jre="$cache/debian-12-jre17.tar"
if [[ ! -f "$jre" ]]; then
  command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  say "building a Debian 12 root filesystem with openjdk-17-jre-headless (debootstrap, once)"
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=openjdk-17-jre-headless bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/cache/apt/* \
    "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  echo 'appuser:x:1000:1000::/home/appuser:/bin/bash' >>"$root/etc/passwd"
  echo 'appuser:x:1000:' >>"$root/etc/group"
  mkdir -p "$root/home/appuser" "$root/var/lib/kafka/data"
  chown 1000:1000 "$root/home/appuser" "$root/var/lib/kafka/data"
  tar -C "$root" --numeric-owner -cf "$jre.tmp" .
  mv "$jre.tmp" "$jre"
  rm -rf "$root"
  trap - EXIT
fi

# 3. The build context: the JRE's root filesystem, /opt/kafka owned by appuser, and a Dockerfile.
context="$cache/image-$KAFKA_VERSION"
mkdir -p "$context"
ln -f "$jre" "$context/debian-12-jre17.tar" 2>/dev/null || cp "$jre" "$context/debian-12-jre17.tar"
# Re-made only when something in Kafka's home changed, so Docker's build cache stays warm.
if [[ ! -f "$context/kafka.tar" ]] || [[ -n $(find "$home" -newer "$context/kafka.tar" -print -quit) ]]; then
  tar -C "$home" --transform 's:^\./:opt/kafka/:' --exclude ./.complete --owner=1000 --group=1000 --numeric-owner \
    -cf "$context/kafka.tar.tmp" .
  mv "$context/kafka.tar.tmp" "$context/kafka.tar"
fi
cmp -s "$here/Dockerfile" "$context/Dockerfile" || cp "$here/Dockerfile" "$context/Dockerfile"

flock -u 9 # the cache is complete: builds into daemons need no lock
for host in "${hosts[@]}"; do
  say "docker build -t apache/kafka:$KAFKA_VERSION on $host"
  docker -H "$host" build -q -t "apache/kafka:$KAFKA_VERSION" "$context" >&2
done
echo "$context"
