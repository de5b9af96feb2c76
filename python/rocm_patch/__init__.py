"""rocm-patch's Python side: the API for training scripts, and the shim.

The API (rocm_patch.api, docs/python.md):

    select_device(policy="mitigate", force_gpu_unsafe=False) -> "cuda" | "cpu"
    safeguard(policy="cpu", force_gpu_unsafe=False) -> "cuda" | "cpu"
    apply_gfx1030_safeguard(...)   the same as safeguard
    report_throughput(value, unit)

`rocm-patch python-path --install` makes `import rocm_patch` work in any
script; `rocm-patch run` puts the package on PYTHONPATH with its shim
(rocm_patch.shim, see README.md beside this file), which it loads only when
the job imports torch.

Importing this package does nothing by itself: the names above load
rocm_patch.api at their first use, so the shim, which imports this package
in every torch process under `run`, pays nothing for the API.
"""

_API = ("select_device", "safeguard", "apply_gfx1030_safeguard", "report_throughput", "POLICIES")

__all__ = list(_API)


def __getattr__(name):
    if name in _API:
        from rocm_patch import api

        return getattr(api, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def __dir__():
    return sorted(list(globals()) + list(_API))
