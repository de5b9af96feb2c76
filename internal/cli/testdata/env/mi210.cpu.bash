# rocm-patch env, policy cpu: risk none.
# GPU 0 AMD Instinct MI210 (gfx90a): risk none; GPU, supervised; the run moves
# to the CPU after 2 GPU faults; no variable needed
# No variable does anything useful on this hardware under this policy; there
# is nothing to set.
