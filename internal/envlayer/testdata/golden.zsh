# rocm-patch env, policy mitigate: risk high.
# GPU 0 AMD Radeon RX 6700 XT (gfx1031): risk high; GPU with the mitigation
# layers
# Load with: eval "$(rocm-patch env --shell zsh)"

# HSA_OVERRIDE_GFX_VERSION
#   why:  GPU 0 needs gfx1030 code
#   does: reports another ISA version
#   cost: none when the family matches
export HSA_OVERRIDE_GFX_VERSION='10.3.0'

# unset HSA_XNACK
#   why:  a no-op on RDNA
#   does: requests XNACK
#   cost: none
unset HSA_XNACK
