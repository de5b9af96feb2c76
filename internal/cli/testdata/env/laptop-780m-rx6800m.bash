# rocm-patch env, policy mitigate: risk high.
# GPU 0 AMD Radeon RX 6800M (gfx1031): risk high; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; environment layer: export
# HSA_OVERRIDE_GFX_VERSION_1=10.3.0
# GPU 1 AMD Radeon 780M Graphics (gfx1103): risk low; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; environment layer: export
# HSA_OVERRIDE_GFX_VERSION_2=11.0.0
# Load with: eval "$(rocm-patch env)"

# HSA_OVERRIDE_GFX_VERSION_1
#   why:  GPU 0 (AMD Radeon RX 6800M, gfx1031): keeps
#         HSA_OVERRIDE_GFX_VERSION_1=10.3.0, which loads gfx1030 code of the
#         same ISA family (gfx10-3-generic), shipped by /opt/rocm (ROCm
#         6.2.0-66) and PyTorch 2.4.1+rocm6.1
#   does: The override for one KFD node only; it wins over
#         HSA_OVERRIDE_GFX_VERSION for that node.
#   cost: As HSA_OVERRIDE_GFX_VERSION, for one GPU.
export HSA_OVERRIDE_GFX_VERSION_1='10.3.0'

# HSA_OVERRIDE_GFX_VERSION_2
#   why:  GPU 1 (AMD Radeon 780M Graphics, gfx1103): keeps
#         HSA_OVERRIDE_GFX_VERSION_2=11.0.0, which loads gfx1100 code of the
#         same ISA family (gfx11-generic), shipped by /opt/rocm (ROCm
#         6.2.0-66) and PyTorch 2.4.1+rocm6.1
#   does: The override for one KFD node only; it wins over
#         HSA_OVERRIDE_GFX_VERSION for that node.
#   cost: As HSA_OVERRIDE_GFX_VERSION, for one GPU.
export HSA_OVERRIDE_GFX_VERSION_2='11.0.0'
