# rocm-patch env, policy cpu: risk high.
# GPU 0 AMD Radeon RX 6700 XT (gfx1031): risk high; high risk: hidden from the
# run (ROCR_VISIBLE_DEVICES="" HIP_VISIBLE_DEVICES=""
# CUDA_VISIBLE_DEVICES=""); the job runs on the CPU
# Load with: eval "$(rocm-patch env --policy cpu)"

# ROCR_VISIBLE_DEVICES
#   why:  hides GPU 0 (AMD Radeon RX 6700 XT, gfx1031) (high risk, policy
#         cpu); the job runs on the CPU
#   does: Filters GPUs at the HSA level, by index or GPU-<uuid>. Set but empty
#         means no GPUs at all.
#   cost: Hidden GPUs are unused; an empty value hides every GPU.
export ROCR_VISIBLE_DEVICES=''

# HIP_VISIBLE_DEVICES
#   why:  with ROCR_VISIBLE_DEVICES: hides GPU 0 (AMD Radeon RX 6700 XT,
#         gfx1031) (high risk, policy cpu); the job runs on the CPU
#   does: Only the listed device indices are visible to HIP.
#   cost: Hidden GPUs are unused.
export HIP_VISIBLE_DEVICES=''

# CUDA_VISIBLE_DEVICES
#   why:  with ROCR_VISIBLE_DEVICES: hides GPU 0 (AMD Radeon RX 6700 XT,
#         gfx1031) (high risk, policy cpu); the job runs on the CPU
#   does: The CUDA name of HIP_VISIBLE_DEVICES: only the listed device indices
#         are visible. HIP on AMD honours it when HIP_VISIBLE_DEVICES is
#         unset, and scripts written for CUDA set it.
#   cost: Hidden GPUs are unused.
export CUDA_VISIBLE_DEVICES=''
