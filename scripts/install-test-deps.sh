#!/usr/bin/env bash
# Installs the system packages the test suite needs, only when missing.
# Needs root for apt-get; without root it says what to install and fails.
set -euo pipefail

need=()
# libdrm's amdgpu.ids: detect's fallback for GPU names, tested against the real file.
[ -f /usr/share/libdrm/amdgpu.ids ] || need+=(libdrm-common)
# GNU time (peak RSS) and GNU grep serve the benchmarks' scripts.
[ -x /usr/bin/time ] || need+=(time)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing test dependencies: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing test dependencies: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
