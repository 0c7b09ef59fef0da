#!/usr/bin/env bash
# Installs from Debian what the local VMs need (run as root on Debian 12): the network tools,
# OpenSSH, sudo, the Docker engine, the image registry, debootstrap for the base images and Maven
# for Apache Kafka's jars (local/images/kafka/build.sh), and Chromium for the central UI's browser
# tests (headless, driven by playwright-core: Playwright's own browser download is not used).
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "setup: run as root (the local VMs need network namespaces and Docker engines)" >&2; exit 1; fi
PKGS=(iproute2 iptables openssh-server openssh-client sudo docker.io docker-registry debootstrap maven util-linux tar curl ca-certificates chromium)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian starts these on install where an init system runs; the local VMs run their own.
for s in docker docker-registry ssh; do systemctl disable --now "$s" >/dev/null 2>&1 || true; done
echo "setup: ${#missing[@]} package(s) installed (${missing[*]:-none missing})"
