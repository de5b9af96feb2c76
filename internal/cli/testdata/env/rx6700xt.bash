# rocm-patch env, policy mitigate: risk high.
# GPU 0 AMD Radeon RX 6700 XT (gfx1031): risk high; GPU, supervised; the run
# moves to the CPU after 2 GPU faults; environment layer: export
# HSA_OVERRIDE_GFX_VERSION=10.3.0
# Load with: eval "$(rocm-patch env)"

# HSA_OVERRIDE_GFX_VERSION
#   why:  GPU 0 (AMD Radeon RX 6700 XT, gfx1031): no install ships gfx1031
#         kernels; /opt/rocm (ROCm 6.2.0-66) and PyTorch 2.4.1+rocm6.1 ship
#         gfx1030, the same ISA family (gfx10-3-generic)
#   does: Reports another ISA version for every GPU, so that ROCr loads code
#         objects built for that ISA. A per-node form,
#         HSA_OVERRIDE_GFX_VERSION_<node>, also exists.
#   cost: Code built for another ISA runs on the GPU. Within one LLVM generic
#         family (10.3.0 on gfx1031-gfx1036, 11.0.0 on RDNA3) this is the
#         common working trick; across families (10.3.0 on gfx1010, 10.3.0 on
#         RDNA3, 11.0.0 on RDNA2) memory faults or wrong results are the
#         expected outcome. A value libhsakmt rejects makes ROCm see no GPU.
export HSA_OVERRIDE_GFX_VERSION='10.3.0'
