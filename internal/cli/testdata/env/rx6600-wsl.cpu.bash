# rocm-patch env: no AMD GPU visible to rocm-patch (WSL: GPUs are reached
# through /dev/dxg); there is nothing to set.
