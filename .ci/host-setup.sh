#!/usr/bin/env bash
# host-setup.sh: installs, when missing, the Debian packages the container
# machines need on the host (podman and its network stack, debootstrap for
# the node image, gcc for the pause binary). Idempotent; root needed to
# install. Podman's host quirks are handled by internal/podman at run time.
set -euo pipefail
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v iptables >/dev/null || need+=(iptables)
if ((${#need[@]})); then
  echo "host-setup: installing ${need[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "host-setup: root is needed to install ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "host-setup: $(podman --version), $(runc --version | head -1), debootstrap $(dpkg-query -W -f '${Version}' debootstrap), $(gcc --version | head -1)"
