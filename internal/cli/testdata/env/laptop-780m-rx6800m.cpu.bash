# rocm-patch env, policy cpu: risk high.
# GPU 0 AMD Radeon RX 6800M (gfx1031): risk high; high risk: hidden from the
# run (ROCR_VISIBLE_DEVICES="1" HIP_VISIBLE_DEVICES="0"
# CUDA_VISIBLE_DEVICES="0"); its work goes to the GPUs the run keeps
# GPU 1 AMD Radeon 780M Graphics (gfx1103): risk low; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; environment layer: export
# HSA_OVERRIDE_GFX_VERSION_2=11.0.0
# Load with: eval "$(rocm-patch env --policy cpu)"

# ROCR_VISIBLE_DEVICES
#   why:  hides GPU 0 (AMD Radeon RX 6800M, gfx1031) (high risk, policy cpu);
#         the run keeps GPU 1 (AMD Radeon 780M Graphics, gfx1103)
#   does: Filters GPUs at the HSA level, by index or GPU-<uuid>. Set but empty
#         means no GPUs at all.
#   cost: Hidden GPUs are unused; an empty value hides every GPU.
export ROCR_VISIBLE_DEVICES='1'

# HIP_VISIBLE_DEVICES
#   why:  with ROCR_VISIBLE_DEVICES: hides GPU 0 (AMD Radeon RX 6800M,
#         gfx1031) (high risk, policy cpu); the run keeps GPU 1 (AMD Radeon
#         780M Graphics, gfx1103)
#   does: Only the listed device indices are visible to HIP.
#   cost: Hidden GPUs are unused.
export HIP_VISIBLE_DEVICES='0'

# CUDA_VISIBLE_DEVICES
#   why:  with ROCR_VISIBLE_DEVICES: hides GPU 0 (AMD Radeon RX 6800M,
#         gfx1031) (high risk, policy cpu); the run keeps GPU 1 (AMD Radeon
#         780M Graphics, gfx1103)
#   does: The CUDA name of HIP_VISIBLE_DEVICES: only the listed device indices
#         are visible. HIP on AMD honours it when HIP_VISIBLE_DEVICES is
#         unset, and scripts written for CUDA set it.
#   cost: Hidden GPUs are unused.
export CUDA_VISIBLE_DEVICES='0'

# HSA_OVERRIDE_GFX_VERSION_2
#   why:  GPU 1 (AMD Radeon 780M Graphics, gfx1103): keeps
#         HSA_OVERRIDE_GFX_VERSION_2=11.0.0, which loads gfx1100 code of the
#         same ISA family (gfx11-generic), shipped by /opt/rocm (ROCm
#         6.2.0-66) and PyTorch 2.4.1+rocm6.1
#   does: The override for one KFD node only; it wins over
#         HSA_OVERRIDE_GFX_VERSION for that node.
#   cost: As HSA_OVERRIDE_GFX_VERSION, for one GPU.
export HSA_OVERRIDE_GFX_VERSION_2='11.0.0'
