# rocm-patch env, policy mitigate: risk high.
# GPU 0 AMD Radeon RX 6800 (gfx1030): risk high; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; no variable needed
# No variable does anything useful on this hardware under this policy; there
# is nothing to set.
