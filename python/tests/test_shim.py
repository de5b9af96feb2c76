"""rocm_patch.shim in this process, against the real (CPU) torch.

GPU allocation failures come from the shim's own test hook, raised inside
the real wrappers before they call the real factories; torch is never
replaced by a mock.
"""

import os
import shutil
import tempfile
import timeit
import types
import unittest

from helpers import DEVICE_AFTER_IMPORT, HAVE_TORCH, read_events

from rocm_patch import shim

if HAVE_TORCH:
    import torch


def forced(run_dir=None, **env):
    e = {"ROCM_PATCH_SHIM_FORCE": "1"}
    if run_dir:
        e["ROCM_PATCH_RUN_DIR"] = run_dir
    e.update(env)
    return e


@unittest.skipUnless(HAVE_TORCH, "needs torch")
class ShimCase(unittest.TestCase):
    def setUp(self):
        shim._test_reset()
        self.addCleanup(shim._test_reset)
        self.tmp = tempfile.mkdtemp(prefix="rocm-patch-shim-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.stderr = []
        self._warn = shim._warn
        shim._warn = self.stderr.append
        self.addCleanup(setattr, shim, "_warn", self._warn)

    def arm(self, **env):
        shim.after_torch(torch, environ=forced(self.tmp, **env))

    def count(self, key):
        return shim.state()[key]


class CPUDoesNothingTest(ShimCase):
    def test_cpu_build_is_left_alone(self):
        originals = {n: getattr(torch, n) for n in shim.FACTORIES + shim.LIKE_FACTORIES}
        to, cuda = torch.Tensor.to, torch.Tensor.cuda
        shim.after_torch(torch, environ={"ROCM_PATCH_RUN_DIR": self.tmp})
        for n, f in originals.items():
            self.assertIs(getattr(torch, n), f, n)
        self.assertIs(torch.Tensor.to, to)
        self.assertIs(torch.Tensor.cuda, cuda)
        st = shim.state()
        self.assertEqual((st["device"], st["wrapped"], st["memory_fraction"]), (DEVICE_AFTER_IMPORT, False, None))
        self.assertEqual(read_events(self.tmp)[0]["event"], "loaded")

    def test_supervisor_cpu_device_is_left_alone(self):
        # As if torch were a GPU build: ROCM_PATCH_DEVICE=cpu still wins.
        fake_version = types.SimpleNamespace(hip="6.0.0", cuda=None)
        fake = types.SimpleNamespace(__version__="2.3.0+rocm6.0", version=fake_version)
        shim.after_torch(fake, environ={"ROCM_PATCH_DEVICE": "cpu"})
        self.assertEqual(shim.state()["device"], "cpu")
        self.assertFalse(shim.state()["wrapped"])

    def test_gpu_build_waits_for_gpu_init(self):
        # On a GPU build the shim queues itself on torch.cuda's lazy init
        # rather than starting the GPU runtime at import. This torch has no
        # GPU, so the queued call is only checked for, never run.
        fake_version = types.SimpleNamespace(hip="6.0.0", cuda=None)
        queued = []
        fake_cuda = types.SimpleNamespace(_lazy_call=queued.append)
        fake = types.SimpleNamespace(__version__="2.3.0+rocm6.0", version=fake_version, cuda=fake_cuda)
        shim.after_torch(fake, environ={})
        self.assertEqual(queued, [shim._on_gpu_init])
        self.assertEqual(shim.state()["device"], "pending")
        self.assertFalse(shim.state()["wrapped"])


class GPUInitTest(ShimCase):
    """The step torch.cuda's lazy init runs, on a stand-in for torch.cuda.

    This torch has no GPU, so torch.cuda is replaced by a recorder; the
    factories and Tensor are the real ones.
    """

    def fake_torch(self, fail_fraction=False):
        calls = {"fraction": [], "queued": []}

        def set_fraction(f, i):
            if fail_fraction:
                raise RuntimeError("HIP error: invalid device ordinal")
            calls["fraction"].append((f, i))

        cuda = types.SimpleNamespace(
            _lazy_call=calls["queued"].append,
            device_count=lambda: 2,
            current_device=lambda: 0,
            get_device_name=lambda i: "AMD Radeon RX 6700 XT",
            get_device_properties=lambda i: types.SimpleNamespace(gcnArchName="gfx1031"),
            set_per_process_memory_fraction=set_fraction,
            OutOfMemoryError=torch.cuda.OutOfMemoryError,
            empty_cache=lambda: None,
        )
        fake = types.ModuleType("torch")
        for name in shim.FACTORIES + shim.LIKE_FACTORIES:
            setattr(fake, name, getattr(torch, name))
        fake.Tensor, fake.dtype, fake.jit = torch.Tensor, torch.dtype, torch.jit
        fake.__version__ = "2.3.0+rocm6.0"
        fake.version = types.SimpleNamespace(hip="6.0.32830", cuda=None)
        fake.cuda = cuda
        return fake, calls

    def test_lazy_init_sets_fraction_and_wraps(self):
        fake, calls = self.fake_torch()
        zeros = fake.zeros
        shim.after_torch(fake, environ={"ROCM_PATCH_RUN_DIR": self.tmp, "ROCM_PATCH_MEMORY_FRACTION": "0.7"})
        self.assertIs(fake.zeros, zeros, "nothing is wrapped before the GPU initialises")
        self.assertEqual(calls["queued"], [shim._on_gpu_init])
        calls["queued"][0]()
        self.assertEqual(calls["fraction"], [(0.7, 0), (0.7, 1)])
        self.assertIsNot(fake.zeros, zeros)
        self.assertIs(fake.zeros.__wrapped__, zeros)
        st = shim.state()
        self.assertEqual((st["device"], st["arch"], st["memory_fraction"], st["wrapped"]), ("gpu", "gfx1031", 0.7, True))
        shim._test_fail_next(1)
        self.assertEqual(fake.zeros(2).device.type, "cpu")
        self.assertEqual(shim.state()["fallbacks"], 1)
        events = read_events(self.tmp)
        self.assertEqual([e["event"] for e in events], ["loaded", "active", "status"])
        self.assertEqual(events[0]["device"], "pending")
        self.assertEqual(events[1]["device_name"], "AMD Radeon RX 6700 XT")

    def test_lazy_init_never_raises(self):
        fake, calls = self.fake_torch(fail_fraction=True)
        shim.after_torch(fake, environ={"ROCM_PATCH_RUN_DIR": self.tmp})
        calls["queued"][0]()  # would surface as the job's own error if it raised
        st = shim.state()
        self.assertIsNone(st["memory_fraction"])
        self.assertTrue(st["wrapped"], "the wrappers do not depend on the fraction")
        self.assertEqual([e["event"] for e in read_events(self.tmp)], ["loaded", "error", "active"])
        self.assertEqual(len(self.stderr), 1)


class ForkTest(ShimCase):
    @unittest.skipUnless(hasattr(os, "fork"), "needs fork")
    def test_forked_child_counts_from_zero(self):
        self.arm()
        shim._test_fail_next(1)
        torch.zeros(1)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                shim._test_fail_next(1)
                torch.zeros(1)
                code = 0 if shim.state()["fallbacks"] == 1 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(shim.state()["fallbacks"], 1)
        by_pid = {e["pid"]: e["fallbacks"] for e in read_events(self.tmp)}
        self.assertEqual(by_pid, {os.getpid(): 1, pid: 1})


class WrapperTest(ShimCase):
    def test_wrappers_keep_names_docs_and_originals(self):
        originals = {n: getattr(torch, n) for n in shim.FACTORIES + shim.LIKE_FACTORIES}
        to = torch.Tensor.to
        self.arm()
        for n, f in originals.items():
            w = getattr(torch, n)
            self.assertIsNot(w, f)
            self.assertIs(w.__wrapped__, f, n)
            self.assertEqual(w.__name__, f.__name__)
            self.assertEqual(w.__doc__, f.__doc__)
        self.assertIs(torch.Tensor.to.__wrapped__, to)
        self.assertEqual(torch.Tensor.to.__doc__, to.__doc__)

    def test_results_are_unchanged_when_nothing_fails(self):
        self.arm()
        torch.manual_seed(0)
        a = torch.randn(3, 4)
        torch.manual_seed(0)
        b = torch.Tensor.to.__wrapped__(torch.randn.__wrapped__(3, 4), torch.float64)
        self.assertTrue(torch.equal(a.to(torch.float64), b))
        self.assertEqual(torch.full((2,), 7).tolist(), [7, 7])
        self.assertEqual(torch.arange(0, 6, 2).tolist(), [0, 2, 4])
        self.assertEqual(torch.tensor([1, 2], dtype=torch.int8).dtype, torch.int8)
        self.assertEqual(torch.zeros_like(a).shape, a.shape)
        self.assertEqual(self.count("fallbacks"), 0)

    def test_other_errors_pass_through_uncounted(self):
        self.arm()
        with self.assertRaises(RuntimeError) as cm:
            torch.zeros(-1)
        self.assertIn("negative", str(cm.exception))
        with self.assertRaises(TypeError):
            torch.zeros("x")
        self.assertEqual((self.count("fallbacks"), self.count("raised")), (0, 0))

    def test_uninstall_restores(self):
        zeros = torch.zeros
        self.arm()
        shim._test_reset()
        self.assertIs(torch.zeros, zeros)


class FallbackTest(ShimCase):
    def test_factories_fall_back_to_cpu_and_count(self):
        self.arm()
        calls = [
            ("empty", lambda: torch.empty(2, 3), (2, 3)),
            ("zeros", lambda: torch.zeros(4, dtype=torch.float16), (4,)),
            ("ones", lambda: torch.ones(1), (1,)),
            ("full", lambda: torch.full((2,), 3.0), (2,)),
            ("tensor", lambda: torch.tensor([1.0, 2.0]), (2,)),
            ("rand", lambda: torch.rand(2), (2,)),
            ("randn", lambda: torch.randn(2), (2,)),
            ("randint", lambda: torch.randint(0, 5, (3,)), (3,)),
            ("arange", lambda: torch.arange(5), (5,)),
        ]
        for i, (name, call, shape) in enumerate(calls, 1):
            with self.subTest(name):
                shim._test_fail_next(1)
                t = call()
                self.assertEqual(t.device.type, "cpu")
                self.assertEqual(tuple(t.shape), shape)
                self.assertEqual(self.count("fallbacks"), i)
                self.assertEqual(self.count("by_op")["torch." + name], 1)
        self.assertEqual(torch.zeros(4, dtype=torch.float16).dtype, torch.float16)
        # Warned once, counted always.
        self.assertEqual(len(self.stderr), 1, self.stderr)
        self.assertIn("Fallback 1", self.stderr[0])
        events = read_events(self.tmp)
        self.assertEqual(events[-1]["fallbacks"], len(calls))
        self.assertEqual(sum(e["event"] == "status" for e in events), len(calls))

    def test_like_factories(self):
        self.arm()
        x = torch.ones(2, 2, dtype=torch.float64)
        for name in shim.LIKE_FACTORIES:
            with self.subTest(name):
                shim._test_fail_next(1)
                args = (x, 5.0) if name == "full_like" else (x, 4) if name == "randint_like" else (x,)
                t = getattr(torch, name)(*args)
                self.assertEqual((t.shape, t.dtype, t.device.type), (x.shape, x.dtype, "cpu"))
        self.assertEqual(self.count("fallbacks"), len(shim.LIKE_FACTORIES))

    def test_tensor_to_keeps_the_dtype_asked_for(self):
        self.arm()
        x = torch.arange(4)
        cases = [
            ((torch.float32,), {}, torch.float32),
            (("cpu", torch.float64), {}, torch.float64),
            ((), {"device": "cpu", "dtype": torch.float16}, torch.float16),
            ((torch.zeros(1, dtype=torch.int8),), {}, torch.int8),
            (("cpu",), {}, torch.int64),
        ]
        for args, kwargs, dtype in cases:
            with self.subTest(args=args, kwargs=kwargs):
                shim._test_fail_next(1)
                t = x.to(*args, **kwargs)
                self.assertEqual((t.dtype, t.device.type), (dtype, "cpu"))
                self.assertEqual(t.tolist(), [0, 1, 2, 3])
        self.assertEqual(self.count("by_op"), {"Tensor.to": len(cases)})

    def test_tensor_cuda_returns_the_cpu_tensor(self):
        self.arm()
        x = torch.arange(3)
        shim._test_fail_next(1)
        self.assertIs(x.cuda(), x)
        self.assertEqual(self.count("by_op"), {"Tensor.cuda": 1})

    def test_module_to_falls_back_per_parameter(self):
        self.arm()
        m = torch.nn.Linear(2, 2)
        shim._test_fail_next(2)
        m.to(torch.float64)
        self.assertEqual({p.dtype for p in m.parameters()}, {torch.float64})
        self.assertEqual(self.count("fallbacks"), 2)

    def test_out_is_not_repeated(self):
        self.arm()
        out = torch.empty(2)
        shim._test_fail_next(1)
        with self.assertRaises(torch.cuda.OutOfMemoryError):
            torch.zeros(2, out=out)
        self.assertEqual((self.count("fallbacks"), self.count("raised")), (0, 1))

    def test_raise_policy(self):
        self.arm(ROCM_PATCH_SHIM_POLICY="raise")
        shim._test_fail_next(1)
        with self.assertRaises(torch.cuda.OutOfMemoryError) as cm:
            torch.zeros(2)
        self.assertIn("HIP out of memory", str(cm.exception))
        self.assertEqual((self.count("fallbacks"), self.count("raised")), (0, 1))
        self.assertEqual(torch.zeros(2).tolist(), [0.0, 0.0])

    def test_retry_policy_retries_once_then_falls_back(self):
        self.arm(ROCM_PATCH_SHIM_POLICY="retry")
        shim._test_fail_next(1)
        self.assertEqual(torch.ones(2).tolist(), [1.0, 1.0])
        st = shim.state()
        self.assertEqual((st["retries"], st["retry_ok"], st["fallbacks"]), (1, 1, 0))
        shim._test_fail_next(2)
        self.assertEqual(torch.ones(2).device.type, "cpu")
        st = shim.state()
        self.assertEqual((st["retries"], st["retry_ok"], st["fallbacks"]), (2, 1, 1))

    def test_env_test_hook(self):
        self.arm(ROCM_PATCH_SHIM_TEST_FAIL="2")
        torch.zeros(1)
        torch.zeros(1)
        torch.zeros(1)
        self.assertEqual(self.count("fallbacks"), 2)

    def test_bad_policy_falls_back_to_default(self):
        self.arm(ROCM_PATCH_SHIM_POLICY="explode")
        self.assertEqual(shim.state()["policy"], "fallback")
        self.assertTrue(any("ROCM_PATCH_SHIM_POLICY" in m for m in self.stderr))

    def test_error_classifier(self):
        oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        self.arm()
        yes = [
            oom,
            RuntimeError("HIP out of memory. Tried to allocate 1.00 GiB"),
            RuntimeError("HIP error: out of memory\nHIP kernel errors might be asynchronously reported"),
            RuntimeError("CUDA error: out of memory"),
            RuntimeError("hipErrorOutOfMemory"),
            RuntimeError("cudaErrorMemoryAllocation: out of memory"),
        ]
        no = [
            RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"),
            RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 bytes"),
            RuntimeError("HIP error: invalid device function"),
            RuntimeError("Expected all tensors to be on the same device"),
        ]
        for e in yes:
            self.assertTrue(shim._is_gpu_alloc_error(e), str(e))
        for e in no:
            self.assertFalse(shim._is_gpu_alloc_error(e), str(e))


class ReportTest(ShimCase):
    def test_unwritable_run_dir_warns_once(self):
        missing = os.path.join(self.tmp, "missing")
        shim.after_torch(torch, environ=forced(missing))
        shim._test_fail_next(3)
        for _ in range(3):
            torch.zeros(1)
        self.assertEqual(self.count("fallbacks"), 3)
        self.assertEqual(sum("cannot write" in m for m in self.stderr), 1, self.stderr)

    def test_no_run_dir_no_report(self):
        shim.after_torch(torch, environ={"ROCM_PATCH_SHIM_FORCE": "1"})
        shim._test_fail_next(1)
        torch.zeros(1)
        self.assertEqual(os.listdir(self.tmp), [])

    def test_exit_event(self):
        self.arm()
        shim._at_exit()
        events = read_events(self.tmp)
        self.assertEqual([e["event"] for e in events], ["loaded", "status"])
        self.assertTrue(events[-1]["final"])
        self.assertNotIn("final", events[0])
        for key in ("event", "pid", "torch_version", "hip_version", "device", "memory_fraction", "alloc_conf", "policy", "fallbacks"):
            self.assertIn(key, events[-1])


class CompilersTest(ShimCase):
    def test_torchscript_sees_through_the_wrappers(self):
        # Build TorchScript's builtin table before the wrapping, the harder
        # order: the wrappers must still resolve to aten ops.
        @torch.jit.script
        def before(n: int):
            return torch.zeros(n) + 1

        self.arm()

        def f(n: int):
            return torch.zeros(n) + torch.ones(n) + torch.arange(n)

        scripted = torch.jit.script(f)
        self.assertEqual(scripted(3).tolist(), [1.0, 2.0, 3.0])
        self.assertIn("aten::zeros", str(scripted.graph))
        self.assertEqual(before(2).tolist(), [1.0, 1.0])
        traced = torch.jit.trace(lambda x: x + torch.ones(2), torch.zeros(2))
        self.assertEqual(traced(torch.ones(2)).tolist(), [2.0, 2.0])

    @unittest.skipUnless(HAVE_TORCH and hasattr(torch, "compile"), "this torch has no torch.compile")
    def test_torch_compile(self):
        self.arm()

        def f(x):
            return x + torch.zeros(x.shape) + torch.ones_like(x)

        compiled = torch.compile(f, backend="eager")
        self.assertEqual(compiled(torch.ones(2)).tolist(), [2.0, 2.0])


class AllocConfTest(unittest.TestCase):
    def setUp(self):
        shim._test_reset()
        self.addCleanup(shim._test_reset)
        self.addCleanup(setattr, shim, "_warn", shim._warn)
        shim._warn = lambda msg: None
        self.tmp = tempfile.mkdtemp(prefix="rocm-patch-conf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def spec(self, version, hip):
        with open(os.path.join(self.tmp, "version.py"), "w") as f:
            f.write("from typing import Optional\n__version__ = %r\ndebug = False\ncuda: Optional[str] = None\nhip: Optional[str] = %r\n" % (version, hip))
        return types.SimpleNamespace(submodule_search_locations=[self.tmp])

    def test_cases(self):
        gc = "garbage_collection_threshold:0.8"
        cases = [
            ("rocm torch, nothing set", "2.3.0+rocm6.0", "6.0.32830", {}, gc, "shim"),
            ("rocm torch 1.12", "1.12.1+rocm5.1.1", "5.1.20531", {}, gc, "shim"),
            ("rocm torch too old for the option", "1.11.0+rocm4.5.2", "4.5.2", {}, None, ""),
            ("cpu torch", "2.3.0+cpu", None, {}, None, ""),
            ("cuda torch", "2.3.0+cu121", None, {}, None, ""),
            ("user cuda conf wins", "2.3.0+rocm6.0", "6.0", {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"}, None, "user"),
            ("user hip conf wins", "2.3.0+rocm6.0", "6.0", {"PYTORCH_HIP_ALLOC_CONF": "expandable_segments:False"}, "expandable_segments:False", "user"),
            ("no fraction, no threshold", "2.3.0+rocm6.0", "6.0", {"ROCM_PATCH_MEMORY_FRACTION": "off"}, None, ""),
            ("supervisor override", "2.3.0+rocm6.0", "6.0", {"ROCM_PATCH_ALLOC_CONF": "max_split_size_mb:256"}, "max_split_size_mb:256", "supervisor"),
            ("supervisor says none", "2.3.0+rocm6.0", "6.0", {"ROCM_PATCH_ALLOC_CONF": "none"}, None, ""),
            ("empty means the shim's choice", "2.3.0+rocm6.0", "6.0", {"ROCM_PATCH_ALLOC_CONF": ""}, gc, "shim"),
            ("supervisor chose the cpu", "2.3.0+rocm6.0", "6.0", {"ROCM_PATCH_DEVICE": "cpu"}, None, ""),
        ]
        for name, version, hip, env, want, source in cases:
            with self.subTest(name):
                shim._test_reset()
                environ = dict(env)
                shim.before_torch(self.spec(version, hip), environ=environ)
                self.assertEqual(environ.get("PYTORCH_HIP_ALLOC_CONF"), want)
                self.assertEqual(shim._state.alloc_conf_source, source)

    def test_probe_then_import_keeps_the_source(self):
        environ = {}
        spec = self.spec("2.3.0+rocm6.0", "6.0")
        shim.before_torch(spec, environ=environ)  # importlib.util.find_spec("torch")
        shim.before_torch(spec, environ=environ)  # import torch
        self.assertEqual(environ, {"PYTORCH_HIP_ALLOC_CONF": "garbage_collection_threshold:0.8"})
        self.assertEqual(shim._state.alloc_conf_source, "shim")

    def test_fraction_parsing(self):
        for raw, want in [(None, 0.8), ("", 0.8), ("0.5", 0.5), ("1", 1.0), ("off", None), ("0", None), ("1.5", None), ("-1", None), ("abc", None)]:
            with self.subTest(raw=raw):
                self.assertEqual(shim._parse_fraction(raw), want)

    def test_version_parsing(self):
        for raw, want in [("1.13.0a0", (1, 13)), ("2.3.0+rocm6.0", (2, 3)), ("1.12", (1, 12)), ("", (0, 0)), ("2", (2, 0))]:
            self.assertEqual(shim._parse_version(raw), want, raw)


@unittest.skipUnless(HAVE_TORCH, "needs torch")
class OverheadTest(ShimCase):
    def test_wrapped_call_costs_under_a_microsecond(self):
        bare = torch.empty
        self.arm()
        wrapped = torch.empty
        n = 20000

        def best(f):
            return min(timeit.repeat(lambda: f(1), number=n, repeat=15)) / n

        # Interleaved, so that a burst of load on the machine hits both.
        b = w = float("inf")
        for _ in range(3):
            b = min(b, best(bare))
            w = min(w, best(wrapped))
        self.assertLess(w - b, 1e-6, "wrapped %.0f ns, bare %.0f ns" % (w * 1e9, b * 1e9))


if __name__ == "__main__":
    unittest.main()
