#!/usr/bin/env bash
# Installs the system packages the test suite needs, only when missing.
# Needs root for apt-get; without root it says what to install and fails.
set -euo pipefail

need=()
# libdrm's amdgpu.ids: detect's fallback for GPU names, tested against the real file.
[ -f /usr/share/libdrm/amdgpu.ids ] || need+=(libdrm-common)
# GNU time (peak RSS) serves the benchmarks' scripts.
[ -x /usr/bin/time ] || need+=(time)
# env's quoting is proven by running its output through each shell.
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
# The in-process shim is tested against Debian's CPU build of PyTorch,
# which installs for /usr/bin/python3.
/usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)

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
