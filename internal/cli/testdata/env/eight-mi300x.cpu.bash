# rocm-patch env, policy cpu: risk none.
# GPUs 0-7 AMD Instinct MI300X (gfx942): risk none; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; no variable needed
# No variable does anything useful on this hardware under this policy; there
# is nothing to set.
