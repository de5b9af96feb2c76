# rocm-patch env: no AMD GPU found; there is nothing to set.
