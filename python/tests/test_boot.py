"""sitecustomize.py: laziness, chaining, and the report, in fresh interpreters."""

import json
import os
import shutil
import tempfile
import textwrap
import unittest

from helpers import DEVICE_AFTER_IMPORT, HAVE_TORCH, SHIM_DIR, read_events, run_python

PROBE = textwrap.dedent(
    """
    import json, sys
    print(json.dumps({
        "torch": "torch" in sys.modules,
        "shim": "rocm_patch.shim" in sys.modules,
        "watchers": sum(type(f).__name__ == "_TorchImportWatcher" for f in sys.meta_path),
        "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None),
    }))
    """
)


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rocm-patch-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, rel, text):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
        return path


class LazyTest(TempDirCase):
    def test_plain_python_imports_neither_torch_nor_the_shim(self):
        r = run_python(PROBE, ROCM_PATCH_RUN_DIR=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual(got["torch"], False)
        self.assertEqual(got["shim"], False)
        self.assertEqual(got["watchers"], 1)
        self.assertEqual(r.stderr, "")
        # Nothing to report from a process that never imported torch.
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "shim.jsonl")))

    def test_disable_installs_no_watcher(self):
        r = run_python(PROBE, ROCM_PATCH_SHIM_DISABLE="1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["watchers"], 0)

    def test_other_imports_pass_through(self):
        r = run_python("import json, email.message, xml.dom.minidom; print('ok')")
        self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "ok", ""))

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_import_torch_on_cpu_reports_and_wraps_nothing(self):
        code = PROBE.replace("print(", "import torch\nz = torch.zeros(2)\nprint(", 1)
        code += textwrap.dedent(
            """
            import torch
            print(json.dumps({"builtin": type(torch.zeros).__name__, "to": type(torch.Tensor.to).__name__}))
            """
        )
        r = run_python(code, ROCM_PATCH_RUN_DIR=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        first, second = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertTrue(first["torch"])
        self.assertTrue(first["shim"])
        self.assertEqual(first["watchers"], 0, "the watcher leaves once torch is in")
        self.assertEqual(second, {"builtin": "builtin_function_or_method", "to": "method_descriptor"})
        events = read_events(self.tmp)
        self.assertEqual([e["event"] for e in events], ["loaded", "status"])
        loaded = events[0]
        # Nothing is wrapped either way: a CPU build is left alone, a GPU
        # build waits for the GPU's initialisation, which this never starts.
        self.assertEqual(loaded["device"], DEVICE_AFTER_IMPORT)
        self.assertFalse(loaded["wrapped"])
        self.assertIsNone(loaded["memory_fraction"])
        self.assertEqual(loaded["policy"], "fallback")
        self.assertEqual(loaded["pid"], events[1]["pid"])
        self.assertEqual(loaded["alloc_conf"], "")
        self.assertNotIn("PYTORCH_HIP_ALLOC_CONF", r.stdout)

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_probing_for_torch_then_importing_it(self):
        # Libraries look for torch with importlib.util.find_spec before they
        # import it; the shim must still patch the real import once.
        code = textwrap.dedent(
            """
            import importlib.util, sys
            assert importlib.util.find_spec("torch") is not None
            assert "torch" not in sys.modules
            import torch
            from rocm_patch import shim
            print(shim.state()["wrapped"], torch.zeros(1).device)
            """
        )
        r = run_python(code, ROCM_PATCH_RUN_DIR=self.tmp, ROCM_PATCH_SHIM_FORCE="1")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "True cpu"), r.stderr)
        self.assertEqual([e["event"] for e in read_events(self.tmp)], ["loaded", "status"])

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_forced_fallback_through_the_env_test_hook(self):
        code = textwrap.dedent(
            """
            import torch
            a = torch.zeros(3)
            b = torch.ones(2, dtype=torch.float64)
            c = torch.empty(4)
            print(a.device, b.dtype, tuple(c.shape))
            """
        )
        r = run_python(code, ROCM_PATCH_RUN_DIR=self.tmp, ROCM_PATCH_SHIM_FORCE="1", ROCM_PATCH_SHIM_TEST_FAIL="2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "cpu torch.float64 (4,)")
        # One line at the first fallback, one summary at exit.
        lines = [l for l in r.stderr.splitlines() if l.startswith("rocm-patch:")]
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertIn("torch.zeros", lines[0])
        self.assertIn("HIP out of memory", lines[0])
        self.assertIn("2 GPU allocations", lines[1])
        events = read_events(self.tmp)
        self.assertEqual([e["event"] for e in events], ["loaded", "status", "status", "status"])
        self.assertEqual([e["fallbacks"] for e in events], [0, 1, 2, 2])
        self.assertEqual(events[-1]["by_op"], {"torch.zeros": 1, "torch.ones": 1})
        self.assertTrue(events[0]["wrapped"])

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_missing_run_dir_warns_once_and_the_job_goes_on(self):
        missing = os.path.join(self.tmp, "gone", "deeper")
        code = "import torch\nprint(torch.zeros(1).sum().item())"
        r = run_python(code, ROCM_PATCH_RUN_DIR=missing, ROCM_PATCH_SHIM_FORCE="1", ROCM_PATCH_SHIM_TEST_FAIL="1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "0.0")
        self.assertEqual(r.stderr.count("cannot write"), 1, r.stderr)


class BytecodeTest(TempDirCase):
    def test_own_pyc_written_even_under_dont_write_bytecode(self):
        # Compiling sitecustomize.py on every start would cost each Python
        # process; the shim caches its own bytecode in its own folder.
        copy = os.path.join(self.tmp, "shim")
        shutil.copytree(SHIM_DIR, copy, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.go"))
        for _ in range(2):
            r = run_python("import sys; print(sys.dont_write_bytecode)", pythonpath=copy, PYTHONDONTWRITEBYTECODE="1")
            self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "True", ""))
        cached = os.listdir(os.path.join(copy, "__pycache__"))
        self.assertEqual(len(cached), 1, cached)
        self.assertTrue(cached[0].startswith("sitecustomize.") and cached[0].endswith(".pyc"), cached)
        # Python itself accepts it.
        r = run_python("pass", pythonpath=copy, PYTHONDONTWRITEBYTECODE="1", PYTHONVERBOSE="1")
        self.assertIn("code object from '%s" % os.path.join(copy, "__pycache__", "sitecustomize."), r.stderr)

    def test_read_only_folder_is_left_alone(self):
        copy = os.path.join(self.tmp, "shim")
        shutil.copytree(SHIM_DIR, copy, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.go"))
        os.chmod(copy, 0o555)
        self.addCleanup(os.chmod, copy, 0o755)
        r = run_python("print('ok')", pythonpath=copy, PYTHONDONTWRITEBYTECODE="1")
        self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "ok", ""))


class ChainTest(TempDirCase):
    def test_user_sitecustomize_runs_once_and_is_the_module(self):
        user = os.path.join(self.tmp, "user")
        self.write(
            "user/sitecustomize.py",
            """
            import sys
            MARK = "user-site"
            sys.stdout.write("USER-SITECUSTOMIZE\\n")
            """,
        )
        code = PROBE + "import sitecustomize\nprint(sitecustomize.MARK)\n"
        r = run_python(code, pythonpath=os.pathsep.join([SHIM_DIR, user]))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines.count("USER-SITECUSTOMIZE"), 1, r.stdout)
        got = json.loads(lines[1])
        self.assertEqual(got["sitecustomize"], os.path.join(user, "sitecustomize.py"))
        self.assertEqual(got["watchers"], 1)
        self.assertEqual(lines[-1], "user-site")

    def test_user_sitecustomize_error_surfaces_like_python_shows_it(self):
        user = os.path.join(self.tmp, "user")
        self.write("user/sitecustomize.py", "raise ValueError('broken user sitecustomize')\n")
        with_shim = run_python(PROBE, pythonpath=os.pathsep.join([SHIM_DIR, user]))
        without = run_python("pass", pythonpath=user)
        self.assertEqual(with_shim.returncode, 0, with_shim.stderr)
        self.assertIn("broken user sitecustomize", without.stderr)
        self.assertEqual(with_shim.stderr, without.stderr)
        # The shim is armed all the same.
        self.assertEqual(json.loads(with_shim.stdout)["watchers"], 1)

    def test_another_shim_copy_is_skipped(self):
        # A run inside a run with another rocm-patch version: one watcher.
        other = os.path.join(self.tmp, "other")
        shutil.copytree(SHIM_DIR, other, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.go"))
        user = os.path.join(self.tmp, "user")
        self.write("user/sitecustomize.py", "print('USER')\n")
        r = run_python(PROBE, pythonpath=os.pathsep.join([SHIM_DIR, other, user]))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "USER")
        self.assertEqual(json.loads(lines[1])["watchers"], 1)

    def test_system_sitecustomize_still_runs(self):
        # Without a user one, the next sitecustomize on sys.path (the
        # distribution's, if any) is the one chained.
        code = "import sys; print(getattr(sys.modules.get('sitecustomize'), '__file__', None))"
        plain = run_python(code, pythonpath="")
        shimmed = run_python(code)
        self.assertEqual(shimmed.returncode, 0, shimmed.stderr)
        want = plain.stdout.strip()
        if want == "None":
            want = os.path.join(SHIM_DIR, "sitecustomize.py")
        self.assertEqual(shimmed.stdout.strip(), want)


if __name__ == "__main__":
    unittest.main()
