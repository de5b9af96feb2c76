# rocm-patch env, policy mitigate: risk high.
# GPU 0 AMD Radeon RX 5700 XT (gfx1010): risk high; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; environment layer: unset
# HSA_OVERRIDE_GFX_VERSION
# Load with: eval "$(rocm-patch env)"

# unset HSA_OVERRIDE_GFX_VERSION
#   why:  GPU 0 (AMD Radeon RX 5700 XT, gfx1010):
#         HSA_OVERRIDE_GFX_VERSION=10.3.0 makes ROCm load gfx1030 code
#         (gfx10-3-generic) on a gfx1010 (gfx10-1-generic): another ISA
#         family, so memory faults or wrong results are the expected outcome;
#         /opt/rocm (ROCm 6.2.0-66) ships gfx1010 kernels, so no override is
#         needed
#   does: Reports another ISA version for every GPU, so that ROCr loads code
#         objects built for that ISA. A per-node form,
#         HSA_OVERRIDE_GFX_VERSION_<node>, also exists.
#   cost: Code built for another ISA runs on the GPU. Within one LLVM generic
#         family (10.3.0 on gfx1031-gfx1036, 11.0.0 on RDNA3) this is the
#         common working trick; across families (10.3.0 on gfx1010, 10.3.0 on
#         RDNA3, 11.0.0 on RDNA2) memory faults or wrong results are the
#         expected outcome. A value libhsakmt rejects makes ROCm see no GPU.
unset HSA_OVERRIDE_GFX_VERSION
