#!/usr/bin/env bash
# host-setup.sh: installs, when missing, the Debian packages the container
# machines need on the host (podman and its network stack, debootstrap for
# the node image, gcc for the pause binary, and Docker's daemon, which the
# Docker engine path's test starts privately). Idempotent; root needed to
# install. Podman's host quirks are handled by internal/podman at run time.
# docker.io's service is never started: a policy-rc.d denies it while it
# installs (the test runs its own daemon without host firewall rules).
set -euo pipefail
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v iptables >/dev/null || need+=(iptables)
docker=()
command -v dockerd >/dev/null || docker=(docker.io)
if ((${#need[@]} + ${#docker[@]})); then
  echo "host-setup: installing ${need[*]} ${docker[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "host-setup: root is needed to install ${need[*]} ${docker[*]} (apt-get install ${need[*]} ${docker[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  if ((${#need[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ((${#docker[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${docker[@]}" >/dev/null
  fi
fi
echo "host-setup: $(podman --version), $(runc --version | head -1), debootstrap $(dpkg-query -W -f '${Version}' debootstrap), $(gcc --version | head -1), $(dockerd --version)"
