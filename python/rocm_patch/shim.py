"""What rocm-patch changes inside a PyTorch process, once torch is imported.

sitecustomize.py calls before_torch() when `import torch` has found torch
but not yet run it, and after_torch() when torch's own import has finished.
Nothing here imports torch; everything acts on the module it is handed.

What happens:

* Before torch loads, on a ROCm build of torch, when neither
  PYTORCH_CUDA_ALLOC_CONF nor PYTORCH_HIP_ALLOC_CONF is set, the shim sets
  PYTORCH_HIP_ALLOC_CONF (see _default_alloc_conf for which options and why).
  The allocator reads it once, at its first use, so later is too late.
* When the process initialises its GPU (torch.cuda's lazy init, which runs
  before the first GPU allocation), the shim sets the per-process memory
  fraction on every visible device and wraps the tensor factories listed in
  FACTORIES and LIKE_FACTORIES, and Tensor.to and Tensor.cuda, so that a
  failed GPU allocation follows the policy. A CPU-only torch, or a process
  that never initialises its GPU, is left exactly as it was.
* It appends what it did to $ROCM_PATCH_RUN_DIR/shim.jsonl for the
  supervisor.

Settings (environment variables, set by `rocm-patch run`):

ROCM_PATCH_SHIM_POLICY      fallback (default) | retry | raise
ROCM_PATCH_MEMORY_FRACTION  0 < f <= 1, default 0.8; "off" sets none
ROCM_PATCH_ALLOC_CONF       replaces the allocator options the shim would
                            choose; "none": none; empty: the shim's choice
ROCM_PATCH_RUN_DIR          folder for shim.jsonl; unset: no report
ROCM_PATCH_DEVICE           gpu (default) | cpu: the supervisor runs this
                            attempt on the CPU, so the shim only reports
ROCM_PATCH_SHIM_DISABLE     1: sitecustomize installs no hook at all
ROCM_PATCH_SHIM_FORCE       1: wrap at import even without a GPU (tests,
                            benchmarks)
ROCM_PATCH_SHIM_TEST_FAIL   N: the next N wrapped calls raise a GPU
                            out-of-memory error before calling torch (tests)

Fallback semantics, per wrapped call that fails with a GPU allocation error:

* factories (torch.zeros(..., device="cuda"), torch.tensor(data,
  device=...), ...): the same call again with device="cpu"; the *_like forms
  likewise, so the result is a CPU tensor shaped like the input. A call
  with out= is not repeated (its output lives on the GPU): the error is
  raised.
* Tensor.to(...): the tensor on the CPU, converted to the dtype (and
  memory_format) that was asked for; self when it is already there.
* Tensor.cuda(...): the tensor on the CPU (self when it is already there).

The first fallback prints one line on stderr; later ones are counted (in
shim.jsonl, and in one line at exit). Code that goes on mixing these CPU
tensors with GPU ones will fail at the next operation that needs both on one
device: fallback keeps allocations from killing the job, it cannot make a
model fit.
"""

import functools
import gc
import json
import os
import re
import sys
import threading
import time

POLICIES = ("fallback", "retry", "raise")
DEFAULT_POLICY = "fallback"
DEFAULT_MEMORY_FRACTION = 0.8

# The factories wrapped in the torch namespace. Each takes device= as a
# keyword (keyword-only in torch's signatures), which is how fallback
# re-issues them on the CPU.
FACTORIES = ("empty", "zeros", "ones", "full", "tensor", "rand", "randn", "randint", "arange")
LIKE_FACTORIES = ("empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like")
TENSOR_METHODS = ("to", "cuda")

# garbage_collection_threshold came with torch 1.12; an older caching
# allocator rejects options it does not know at its first allocation, which
# would kill the job, so the shim sets nothing on older torch.
_GC_THRESHOLD_SINCE = (1, 12)

_GPU_ALLOC_RE = re.compile(
    r"out of memory|ErrorOutOfMemory|ErrorMemoryAllocation|failed to allocate",
    re.IGNORECASE,
)

_RERAISE = object()


class _State:
    """Everything the shim knows about this process, reported as is."""

    def __init__(self):
        self.policy = DEFAULT_POLICY
        self.memory_fraction_wanted = DEFAULT_MEMORY_FRACTION
        self.memory_fraction = None
        self.alloc_conf = ""
        self.alloc_conf_source = ""
        self.run_dir = None
        self.device = "pending"
        self.device_name = ""
        self.arch = ""
        self.torch_version = ""
        self.hip_version = None
        self.cuda_version = None
        self.wrapped = False
        self.forced = False
        self.fallbacks = 0
        self.retries = 0
        self.retry_ok = 0
        self.raised = 0
        self.by_op = {}
        self.last_error = ""
        self.errors = []
        self.loaded = False
        self.settings_read = False
        self.fd = None
        self.report_broken = False
        self.warned_fallback = False
        self.warned_internal = False


_state = _State()
_lock = threading.Lock()
_torch = None
_originals = {}  # "torch.zeros" -> (owner, attribute, original)
_test_fail = [0]
_registered = []  # every wrapper given to TorchScript, kept alive


# --- settings --------------------------------------------------------------


def _read_settings(environ):
    st = _state
    st.settings_read = True
    policy = environ.get("ROCM_PATCH_SHIM_POLICY", "").strip().lower() or DEFAULT_POLICY
    if policy not in POLICIES:
        _warn("ROCM_PATCH_SHIM_POLICY=%r is not one of %s; using %s" % (policy, "|".join(POLICIES), DEFAULT_POLICY))
        policy = DEFAULT_POLICY
    st.policy = policy
    st.memory_fraction_wanted = _parse_fraction(environ.get("ROCM_PATCH_MEMORY_FRACTION"))
    st.run_dir = environ.get("ROCM_PATCH_RUN_DIR") or None
    st.forced = _truthy(environ.get("ROCM_PATCH_SHIM_FORCE"))
    if environ.get("ROCM_PATCH_DEVICE", "").strip().lower() == "cpu":
        st.device = "cpu"
    try:
        _test_fail[0] = max(0, int(environ.get("ROCM_PATCH_SHIM_TEST_FAIL", "0") or "0"))
    except ValueError:
        _test_fail[0] = 0


def _parse_fraction(raw):
    if raw is None or raw.strip() == "":
        return DEFAULT_MEMORY_FRACTION
    raw = raw.strip().lower()
    if raw in ("off", "none", "0"):
        return None
    try:
        f = float(raw)
    except ValueError:
        f = -1.0
    if not 0.0 < f <= 1.0:
        # A limit the user did not mean is worse than none: set nothing.
        _warn("ROCM_PATCH_MEMORY_FRACTION=%r is not in (0, 1]; no memory fraction is set" % raw)
        return None
    return f


def _truthy(v):
    return (v or "").strip().lower() not in ("", "0", "false", "no", "off")


def _parse_version(v):
    nums = []
    for part in re.split(r"[.+]", v or "")[:2]:
        m = re.match(r"\d+", part)
        nums.append(int(m.group()) if m else 0)
    while len(nums) < 2:
        nums.append(0)
    return tuple(nums)


def _read_torch_version_file(spec):
    """torch's version and HIP version from torch/version.py, read as text
    before torch runs (importing it would run torch/__init__ first)."""
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    for loc in locations:
        try:
            with open(os.path.join(loc, "version.py"), encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        version = re.search(r"^__version__\s*(?::[^=]*)?=\s*['\"]([^'\"]*)['\"]", text, re.M)
        hip = re.search(r"^hip\s*(?::[^=]*)?=\s*['\"]([^'\"]*)['\"]", text, re.M)
        return (version.group(1) if version else ""), (hip.group(1) if hip else None)
    return "", None


def _default_alloc_conf(torch_version, hip_version, memory_fraction):
    """The PYTORCH_HIP_ALLOC_CONF the shim sets when the user set none.

    Of the options facts.md lists (max_split_size_mb,
    garbage_collection_threshold, expandable_segments, backend) only
    garbage_collection_threshold:0.8 is set, and only when a memory fraction
    is set too: the caching allocator acts on the threshold only in a process
    with a memory fraction (it compares usage to the fraction's cap), and
    then frees cached, unused blocks once usage passes 80% of that cap
    instead of first failing an allocation. Its cost is more hipFree/hipMalloc
    calls near the cap.

    Not set: max_split_size_mb (fights fragmentation, but the right size
    depends on the model and a wrong one slows every large allocation);
    expandable_segments (maps memory through HIP's virtual-memory API, which
    older ROCm builds of torch do not support and which is exactly the kind
    of path that faults on unsupported consumer GPUs); backend (hipMallocAsync
    support on ROCm is young). ROCm builds of torch that predate
    PYTORCH_HIP_ALLOC_CONF ignore it: then this changes nothing.
    """
    if hip_version is None or memory_fraction is None:
        return ""
    if _parse_version(torch_version) < _GC_THRESHOLD_SINCE:
        return ""
    return "garbage_collection_threshold:0.8"


# --- hooks called by sitecustomize -----------------------------------------


def before_torch(spec, environ=None):
    """Runs when `import torch` has found torch and before torch runs."""
    st = _state
    if st.settings_read:
        # Asked again: importlib.util.find_spec("torch") (libraries probing
        # for torch) runs the finder without importing, then the import runs
        # it once more; the variable set the first time is ours, not the
        # user's.
        return
    environ = os.environ if environ is None else environ
    _read_settings(environ)
    version, hip = _read_torch_version_file(spec)
    user = environ.get("PYTORCH_CUDA_ALLOC_CONF")
    if user is None:
        user = environ.get("PYTORCH_HIP_ALLOC_CONF")
    if user is not None:
        st.alloc_conf, st.alloc_conf_source = user, "user"
        return
    if st.device == "cpu":
        return
    override = environ.get("ROCM_PATCH_ALLOC_CONF", "").strip()
    if override.lower() == "none":
        return
    if override:
        conf, source = override, "supervisor"
    else:
        conf, source = _default_alloc_conf(version, hip, st.memory_fraction_wanted), "shim"
    if conf and hip is not None:
        # Into os.environ, so also into putenv: torch's C++ side reads it
        # with getenv, and child processes inherit it.
        environ["PYTORCH_HIP_ALLOC_CONF"] = conf
        st.alloc_conf, st.alloc_conf_source = conf, source


def after_torch(torch, environ=None):
    """Runs once torch's own import has finished: decide, report, arm."""
    global _torch
    if _torch is not None:
        return
    environ = os.environ if environ is None else environ
    st = _state
    if not st.settings_read:
        # before_torch did not run (torch was imported before the hook).
        _read_settings(environ)
    _torch = torch
    st.loaded = True
    st.torch_version = str(getattr(torch, "__version__", ""))
    tv = getattr(torch, "version", None)
    st.hip_version = getattr(tv, "hip", None)
    st.cuda_version = getattr(tv, "cuda", None)
    gpu_build = bool(st.hip_version or st.cuda_version)
    if not gpu_build:
        st.device = "cpu"
    _register_exit_hooks()
    if st.forced:
        _install_wrappers()
    elif st.device != "cpu":
        _arm_gpu_init(torch)
    _emit("loaded")


def internal_error(where, exc):
    """Records a failure of the shim itself; the job goes on without it."""
    msg = "%s: %s: %s" % (where, type(exc).__name__, exc)
    _state.errors.append(msg)
    if not _state.warned_internal:
        _state.warned_internal = True
        _warn("shim error (the job goes on without this part): " + msg)
    try:
        _emit("error", error=msg)
    except Exception:
        pass


# --- GPU initialisation ----------------------------------------------------


def _arm_gpu_init(torch):
    # torch.cuda runs queued calls inside its lazy init, which happens before
    # the first GPU allocation; asking torch.cuda.is_available() now would
    # start the HIP runtime in processes that never use the GPU, and fix the
    # visible devices before the job had a chance to choose them.
    lazy_call = getattr(getattr(torch, "cuda", None), "_lazy_call", None)
    if lazy_call is None:
        internal_error("arm", RuntimeError("torch.cuda._lazy_call is missing; GPU shim off"))
        return
    lazy_call(_on_gpu_init)


def _on_gpu_init():
    # Runs inside torch.cuda._lazy_init: an exception here would surface as
    # the job's own CUDA error, so none may escape.
    try:
        torch = _torch
        st = _state
        cuda = torch.cuda
        n = cuda.device_count()
        if n <= 0:
            return
        st.device = "gpu"
        try:
            idx = cuda.current_device()
            st.device_name = cuda.get_device_name(idx)
            st.arch = str(getattr(cuda.get_device_properties(idx), "gcnArchName", "") or "")
        except Exception as exc:
            internal_error("device name", exc)
        frac = st.memory_fraction_wanted
        if frac is not None:
            try:
                for i in range(n):
                    cuda.set_per_process_memory_fraction(float(frac), i)
                st.memory_fraction = frac
            except Exception as exc:
                internal_error("memory fraction", exc)
        _install_wrappers()
        _emit("active")
    except Exception as exc:
        internal_error("gpu init", exc)


# --- wrappers --------------------------------------------------------------


def _is_gpu_alloc_error(exc):
    msg = str(exc)
    if "CPUAllocator" in msg:
        return False
    oom = getattr(getattr(_torch, "cuda", None), "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return _GPU_ALLOC_RE.search(msg) is not None


def _make_wrapper(name, original, call, fallback):
    """A wrapper whose common path is one call inside a try block.

    A try block costs nothing until something raises (CPython 3.11 uses
    zero-cost exception tables), so the only price on the common path is the
    Python frame and the *args/**kwargs repacking; everything else lives in
    _handle. `call` is the original, or the test hook's failing stand-in.
    """

    def wrapper(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except RuntimeError as exc:
            result = _handle(name, original, call, fallback, args, kwargs, exc)
            if result is _RERAISE:
                raise
            return result

    functools.update_wrapper(wrapper, original)
    wrapper.__rocm_patch_original__ = original
    return wrapper


def _handle(name, original, call, fallback, args, kwargs, exc):
    if not _is_gpu_alloc_error(exc):
        return _RERAISE
    st = _state
    st.last_error = str(exc)[:300]
    if st.policy == "raise":
        with _lock:
            st.raised += 1
        return _RERAISE
    if st.policy == "retry":
        with _lock:
            st.retries += 1
        # Collect first: unreachable tensors go back to the cache, which
        # empty_cache then hands back to the driver.
        gc.collect()
        try:
            empty = _torch.cuda.empty_cache
            empty()
        except Exception:
            pass
        try:
            result = call(*args, **kwargs)
        except RuntimeError as again:
            if not _is_gpu_alloc_error(again):
                raise
            st.last_error = str(again)[:300]
        else:
            with _lock:
                st.retry_ok += 1
            return result
    cpu = fallback(original, args, kwargs)
    if cpu is _RERAISE:
        with _lock:
            st.raised += 1
        return _RERAISE
    with _lock:
        st.fallbacks += 1
        st.by_op[name] = st.by_op.get(name, 0) + 1
        first = not st.warned_fallback
        st.warned_fallback = True
    if first:
        _warn(
            "%s: GPU allocation failed (%s); made it on the CPU instead. Fallback 1; "
            "later ones are counted, not printed (policy %s)" % (name, st.last_error.splitlines()[0][:160], st.policy)
        )
    _emit("status")
    return cpu


def _factory_fallback(original, args, kwargs):
    if "out" in kwargs:
        return _RERAISE
    kw = dict(kwargs)
    kw["device"] = "cpu"
    return original(*args, **kw)


def _to_fallback(original, args, kwargs):
    # Tensor.to(self, ...): keep the dtype (and memory_format, copy) that was
    # asked for, drop the device. to(other) means other's dtype.
    self, rest = args[0], args[1:]
    dtype = kwargs.get("dtype")
    dtype_type = _torch.dtype
    tensor_type = _torch.Tensor
    for a in rest:
        if isinstance(a, dtype_type):
            dtype = a
        elif isinstance(a, tensor_type):
            dtype = a.dtype
    kw = {"device": "cpu"}
    if dtype is not None:
        kw["dtype"] = dtype
    for key in ("copy", "memory_format"):
        if key in kwargs:
            kw[key] = kwargs[key]
    return original(self, **kw)


def _cuda_fallback(original, args, kwargs):
    self = args[0]
    kw = {"device": "cpu"}
    if "memory_format" in kwargs:
        kw["memory_format"] = kwargs["memory_format"]
    return _original("Tensor.to")(self, **kw)


def _original(key):
    entry = _originals.get(key)
    if entry is not None:
        return entry[2]
    owner, attr = (_torch.Tensor, key[len("Tensor."):]) if key.startswith("Tensor.") else (_torch, key[len("torch."):])
    return getattr(owner, attr)


def _targets():
    torch = _torch
    for attr in FACTORIES + LIKE_FACTORIES:
        yield "torch." + attr, torch, attr, _factory_fallback
    yield "Tensor.to", torch.Tensor, "to", _to_fallback
    yield "Tensor.cuda", torch.Tensor, "cuda", _cuda_fallback


def _install_wrappers():
    """Wraps every target (again, to switch the test hook on or off)."""
    torch = _torch
    failing = _test_fail[0] > 0
    for key, owner, attr, fallback in _targets():
        if key in _originals:
            original = _originals[key][2]
        else:
            original = getattr(owner, attr, None)
            if original is None:
                continue
            _originals[key] = (owner, attr, original)
        call = _failing(original) if failing else original
        wrapper = _make_wrapper(key, original, call, fallback)
        setattr(owner, attr, wrapper)
        if owner is torch:
            _register_for_torchscript(wrapper, attr)
    _state.wrapped = True


def _uninstall_wrappers():
    for owner, attr, original in _originals.values():
        setattr(owner, attr, original)
    _originals.clear()
    _state.wrapped = False


def _register_for_torchscript(wrapper, attr):
    # TorchScript turns torch.zeros into aten::zeros by looking the Python
    # object up in a table keyed by id(); the table may have been built
    # before the wrapping, so the wrapper is added by hand. torch.compile
    # finds torch functions by name when it builds its rules, and the
    # original stays reachable as wrapper.__wrapped__.
    try:
        from torch.jit import _builtins

        _builtins._register_builtin(wrapper, "aten::" + attr)
        # The table holds id()s: a wrapper replaced later (the test hook)
        # must stay alive, or its id could come back as another object's.
        _registered.append(wrapper)
    except Exception as exc:
        internal_error("torchscript " + attr, exc)


# --- test hook --------------------------------------------------------------


def _failing(original):
    def fail_or_call(*args, **kwargs):
        if _test_fail[0] > 0:
            _test_fail[0] -= 1
            raise _synthetic_oom()
        return original(*args, **kwargs)

    return fail_or_call


def _synthetic_oom():
    msg = (
        "HIP out of memory. Tried to allocate 2.00 GiB (GPU 0; 11.98 GiB total capacity; "
        "9.10 GiB already allocated; 1.20 GiB free; 9.60 GiB reserved in total by PyTorch) "
        "(raised by rocm_patch.shim's test hook)"
    )
    oom = getattr(getattr(_torch, "cuda", None), "OutOfMemoryError", None)
    if oom is not None:
        try:
            return oom(msg)
        except Exception:
            pass
    return RuntimeError(msg)


def _test_fail_next(n):
    """Makes the next n wrapped calls raise a GPU out-of-memory error before
    they call torch, through the real wrappers and the real torch."""
    _test_fail[0] = max(0, int(n))
    if _torch is not None and _state.wrapped:
        _install_wrappers()


def _test_reset():
    """Puts torch back as it was and forgets every count (tests only)."""
    global _state, _torch
    if _torch is not None:
        _uninstall_wrappers()
    if _state.fd is not None:
        try:
            os.close(_state.fd)
        except OSError:
            pass
    _state = _State()
    _torch = None
    _test_fail[0] = 0


def state():
    """A copy of what the shim has done so far, as reported."""
    return _record("state")


# --- reporting --------------------------------------------------------------


def _record(event, **extra):
    st = _state
    rec = {
        "event": event,
        "time": round(time.time(), 3),
        "pid": os.getpid(),
        "torch_version": st.torch_version,
        "hip_version": st.hip_version,
        "cuda_version": st.cuda_version,
        "device": st.device,
        "device_name": st.device_name,
        "arch": st.arch,
        "memory_fraction": st.memory_fraction,
        "alloc_conf": st.alloc_conf,
        "alloc_conf_source": st.alloc_conf_source,
        "policy": st.policy,
        "wrapped": st.wrapped,
        "forced": st.forced,
        "fallbacks": st.fallbacks,
        "retries": st.retries,
        "retry_ok": st.retry_ok,
        "raised": st.raised,
        "by_op": dict(st.by_op),
    }
    if st.last_error:
        rec["last_error"] = st.last_error
    rec.update(extra)
    return rec


def _emit(event, **extra):
    st = _state
    if st.run_dir is None or st.report_broken:
        return
    line = (json.dumps(_record(event, **extra), separators=(",", ":")) + "\n").encode("utf-8")
    with _lock:
        try:
            if st.fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                st.fd = os.open(os.path.join(st.run_dir, "shim.jsonl"), flags, 0o644)
            # One write per line on an O_APPEND descriptor: lines from
            # several processes interleave whole.
            os.write(st.fd, line)
        except OSError as exc:
            st.report_broken = True
            _warn("cannot write %s/shim.jsonl (%s); the shim goes on without its report" % (st.run_dir, exc))


def _at_exit():
    st = _state
    if st.device == "pending":
        st.device = "unused"
    _emit("status", final=True)
    if st.fallbacks > 1:
        _warn("%d GPU allocations fell back to the CPU in this process" % st.fallbacks)


def _after_fork_in_child():
    # A forked worker counts its own fallbacks; the supervisor adds them up
    # per pid.
    st = _state
    st.fallbacks = st.retries = st.retry_ok = st.raised = 0
    st.by_op = {}
    st.warned_fallback = False


_exit_hooks = [False]


def _register_exit_hooks():
    if _exit_hooks[0]:
        return
    _exit_hooks[0] = True
    import atexit

    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _warn(msg):
    try:
        sys.stderr.write("rocm-patch: " + msg + "\n")
        sys.stderr.flush()
    except Exception:
        pass
