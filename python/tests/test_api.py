"""rocm_patch's API (select_device, safeguard, report_throughput).

The tests that ask the real binary need its path in ROCM_PATCH_TEST_BINARY
(internal/pypath's TestPythonAPI builds it and sets it); without it they
skip. The fallbacks use small shell scripts standing in for a missing,
failing or lying binary. The example machines are the repository's
examples/systems trees, passed as ROCM_PATCH_ROOT.
"""

import contextlib
import io
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

from helpers import HAVE_TORCH, SHIM_DIR, clean_env

import rocm_patch
from rocm_patch import api

REPO = os.path.dirname(SHIM_DIR)
SYSTEMS = os.path.join(REPO, "examples", "systems")
BINARY = os.environ.get("ROCM_PATCH_TEST_BINARY", "")
HIDE = ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


class APICase(unittest.TestCase):
    """Each test starts with no cached answer, an environment free of
    rocm-patch and visibility variables (restored afterwards), and the
    "rocm_patch" logger's records collected in self.logged()."""

    def setUp(self):
        api._test_reset()
        self.addCleanup(api._test_reset)
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for k in list(os.environ):
            if k.startswith("ROCM_PATCH_") or k in HIDE or k.startswith("HSA_OVERRIDE_GFX_VERSION"):
                del os.environ[k]
        self.tmp = tempfile.mkdtemp(prefix="rocm-patch-api-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # An empty PATH folder: no rocm-patch is found there by accident.
        os.environ["PATH"] = self.tmp
        self.records = _Records()
        logger = logging.getLogger("rocm_patch")
        logger.addHandler(self.records)
        self.addCleanup(logger.removeHandler, self.records)
        # Records go to self.records only, not to the test's stderr.
        old_propagate = logger.propagate
        logger.propagate = False
        self.addCleanup(setattr, logger, "propagate", old_propagate)

    def logged(self, level=logging.WARNING):
        return [m for lv, m in self.records.messages if lv >= level]

    def machine(self, name):
        os.environ["ROCM_PATCH_ROOT"] = os.path.join(SYSTEMS, name)

    def fake_binary(self, script, name="rocm-patch"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            # The tests' PATH holds no tools: the script brings its own.
            f.write("#!/bin/sh\nPATH=/usr/bin:/bin\nexport PATH\n" + script)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path


@unittest.skipUnless(BINARY, "set ROCM_PATCH_TEST_BINARY to a built rocm-patch (go test ./internal/pypath does)")
class RealBinaryTest(APICase):
    def setUp(self):
        super().setUp()
        os.environ["ROCM_PATCH_BIN"] = BINARY

    def test_rdna1_policy_cpu_selects_cpu_and_says_why(self):
        self.machine("rx5700xt")
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cpu")
        (msg,) = self.logged()
        self.assertIn('select_device answers "cpu"', msg)
        self.assertIn("GPU 0 (AMD Radeon RX 5700 XT, gfx1010)", msg)
        self.assertIn("high risk", msg)
        # select_device only answers.
        for k in HIDE:
            self.assertNotIn(k, os.environ)
        # Asked again: the same answer, said once.
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cpu")
        self.assertEqual(len(self.logged()), 1)

    def test_rdna1_safeguard_hides_the_gpu_as_doctor_plans(self):
        self.machine("rx5700xt")
        plan = json.loads(
            subprocess.run(
                [BINARY, "doctor", "--json", "--policy", "cpu", "--root", os.environ["ROCM_PATCH_ROOT"]],
                capture_output=True,
                env=dict(os.environ),
            ).stdout
        )["plan"]
        self.assertEqual(rocm_patch.safeguard(), "cpu")
        want = {e["name"]: e["value"] for e in plan["env"]}
        self.assertEqual(set(want), set(HIDE))
        for k, v in want.items():
            self.assertEqual(os.environ.get(k), v, k)
        (msg,) = self.logged()
        for part in ("hiding GPU 0 (AMD Radeon RX 5700 XT, gfx1010)", 'ROCR_VISIBLE_DEVICES=""', "high risk", "the job runs on the CPU", 'policy="mitigate"', "force_gpu_unsafe=True"):
            self.assertIn(part, msg)
        # Once: a second call answers the same and says nothing more.
        self.assertEqual(rocm_patch.apply_gfx1030_safeguard(), "cpu")
        self.assertEqual(len(self.logged()), 1)

    def test_mi210_answers_cuda_and_changes_nothing(self):
        self.machine("mi210")
        before = dict(os.environ)
        self.assertEqual(rocm_patch.select_device(), "cuda")
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cuda")
        self.assertEqual(rocm_patch.safeguard(), "cuda")
        self.assertEqual(dict(os.environ), before)
        self.assertEqual(self.logged(), [])

    def test_mitigate_applies_the_environment_layer(self):
        # The tree's own environment sets HSA_OVERRIDE_GFX_VERSION=10.3.0 on
        # a gfx1010: the wrong ISA family, which the layer unsets.
        self.machine("rx5700xt")
        os.environ["HSA_OVERRIDE_GFX_VERSION"] = "10.3.0"
        self.assertEqual(rocm_patch.safeguard(policy="mitigate"), "cuda")
        self.assertNotIn("HSA_OVERRIDE_GFX_VERSION", os.environ)
        for k in HIDE:
            self.assertNotIn(k, os.environ)

    def test_mixed_machine_keeps_the_safe_gpu(self):
        self.machine("laptop-780m-rx6800m")
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cuda")
        self.assertIn("call rocm_patch.safeguard(policy='cpu')", self.logged()[0])
        self.assertEqual(rocm_patch.safeguard(policy="cpu"), "cuda")
        self.assertEqual(os.environ["ROCR_VISIBLE_DEVICES"], "1")
        self.assertIn("the job uses GPU 1 (AMD Radeon 780M Graphics, gfx1103)", self.logged()[-1])

    def test_force_gpu_unsafe_warns(self):
        self.machine("rx6700xt")
        self.assertEqual(rocm_patch.safeguard(force_gpu_unsafe=True), "cuda")
        self.assertEqual(os.environ.get("HSA_OVERRIDE_GFX_VERSION"), "10.3.0")
        self.assertTrue(any("no supervision and no CPU fallback" in m for m in self.logged()), self.logged())

    def test_no_gpu_says_why(self):
        self.machine("no-gpu")
        self.assertEqual(rocm_patch.safeguard(), "cpu")
        self.assertIn("no AMD GPU found", self.logged()[0])

    def test_asks_once_per_policy(self):
        self.machine("rx5700xt")
        calls = os.path.join(self.tmp, "calls")
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary('echo "$@" >>%s\nexec %s "$@"\n' % (calls, BINARY), "counting")
        for _ in range(3):
            self.assertEqual(rocm_patch.select_device(policy="cpu"), "cpu")
            self.assertEqual(rocm_patch.select_device(), "cuda")
        with open(calls) as f:
            lines = f.read().splitlines()
        root = os.environ["ROCM_PATCH_ROOT"]
        self.assertEqual(
            lines,
            ["doctor --json --policy cpu --root " + root, "doctor --json --policy mitigate --root " + root],
        )

    def test_after_torch_initialised_the_gpu_it_says_so(self):
        self.machine("rx5700xt")
        fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_initialized=lambda: True))
        with mock.patch.dict(sys.modules, {"torch": fake}):
            self.assertEqual(rocm_patch.safeguard(), "cpu")
        (msg,) = self.logged()
        self.assertIn("torch had already initialised the GPU", msg)
        self.assertIn("cannot hide GPU 0 (AMD Radeon RX 5700 XT, gfx1010)", msg)
        self.assertNotIn("hiding", msg)

    def test_under_run_the_supervisor_answers(self):
        self.machine("rx5700xt")
        os.environ["ROCM_PATCH_BIN"] = os.path.join(self.tmp, "never-asked")
        os.environ["ROCM_PATCH_DEVICE"] = "gpu"
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cuda")
        self.assertEqual(rocm_patch.safeguard(), "cuda")
        os.environ["ROCM_PATCH_DEVICE"] = "cpu"
        self.assertEqual(rocm_patch.safeguard(), "cpu")
        self.assertIn("rocm-patch run runs this attempt on the CPU", self.logged()[0])
        for k in HIDE:
            self.assertNotIn(k, os.environ)

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_child_python_hides_before_torch(self):
        # A fresh interpreter, as a training script runs: safeguard first,
        # then torch, which finds no GPU and works on the CPU.
        code = (
            "import rocm_patch, os\n"
            "d = rocm_patch.safeguard()\n"
            "rocm_patch.safeguard()\n"
            "import torch\n"
            "print(d, repr(os.environ['ROCR_VISIBLE_DEVICES']), torch.cuda.is_available(), torch.ones(2, device=d).sum().item())\n"
        )
        p = subprocess.run(
            [sys.executable, "-c", code],
            env=clean_env(PYTHONPATH=SHIM_DIR, ROCM_PATCH_BIN=BINARY, ROCM_PATCH_ROOT=os.path.join(SYSTEMS, "rx5700xt")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "cpu '' False 2.0\n")
        self.assertEqual(p.stderr.count("rocm-patch: hiding GPU 0"), 1, p.stderr)


class FallbackTest(APICase):
    """Without a usable binary: a warning and the safe answer, never an
    exception, and no environment change."""

    DOC = {
        "schema": "rocm-patch/doctor/v1",
        "policy": "cpu",
        "risk": "none",
        "reasons": [],
        "gpus": [],
        "findings": [],
        "plan": {"policy": "cpu", "device": "gpu", "gpus": [0], "hidden": [], "env": []},
    }

    def check_safe(self, want_in_log):
        before = dict(os.environ)
        for policy in api.POLICIES:
            api._test_reset()
            self.assertEqual(rocm_patch.select_device(policy=policy), "cpu")
            self.assertEqual(rocm_patch.safeguard(policy=policy), "cpu")
        self.assertEqual(dict(os.environ), before)
        logged = self.logged()
        self.assertTrue(logged)
        for m in logged:
            self.assertIn('"cpu", the safe answer', m)
            self.assertIn(want_in_log, m)

    def test_missing_binary(self):
        self.check_safe("not found next to the package")

    def test_binary_named_but_gone(self):
        os.environ["ROCM_PATCH_BIN"] = os.path.join(self.tmp, "gone")
        self.check_safe("cannot start")

    def test_not_executable(self):
        path = os.path.join(self.tmp, "plain")
        open(path, "w").close()
        os.environ["ROCM_PATCH_BIN"] = path
        self.check_safe("cannot start")

    def test_binary_fails(self):
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary("echo 'rocm-patch: doctor: boom' >&2\nexit 1\n")
        self.check_safe("(exit 1: rocm-patch: doctor: boom)")

    def test_usage_error_exit(self):
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary("exit 2\n")
        self.check_safe("(exit 2)")

    def test_garbage(self):
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary("echo 'not json'\n")
        self.check_safe("printed no usable answer")

    def test_wrong_schema(self):
        doc = dict(self.DOC, schema="rocm-patch/doctor/v9")
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary("cat <<'EOF'\n%s\nEOF\n" % json.dumps(doc))
        self.check_safe("not a rocm-patch/doctor/v1 document")

    def test_nonsense_shapes(self):
        for plan in (
            {"device": "tpu"},
            {"device": "gpu", "env": ["ROCR_VISIBLE_DEVICES="]},
            {"device": "cpu", "env": [{"name": "A=B", "value": ""}]},
            {"device": "cpu", "env": [{"name": "X", "value": 3}]},
            "gpu",
        ):
            with self.subTest(plan=plan):
                doc = dict(self.DOC, plan=plan)
                os.environ["ROCM_PATCH_BIN"] = self.fake_binary("cat <<'EOF'\n%s\nEOF\nexit 3\n" % json.dumps(doc))
                self.records.messages.clear()
                self.check_safe("printed no usable answer")

    def test_hang(self):
        os.environ["ROCM_PATCH_BIN"] = self.fake_binary("exec sleep 30\n")
        with mock.patch.object(api, "DOCTOR_TIMEOUT_S", 0.5):
            self.check_safe("did not answer in")

    def test_bad_device_from_run(self):
        os.environ["ROCM_PATCH_DEVICE"] = "tpu"
        self.check_safe("ROCM_PATCH_DEVICE='tpu'")

    def test_binary_on_path_and_root_passed_on(self):
        args = os.path.join(self.tmp, "args")
        self.fake_binary('echo "$@" >%s\ncat <<\'EOF\'\n%s\nEOF\n' % (args, json.dumps(self.DOC)))
        os.environ["ROCM_PATCH_ROOT"] = "/some/tree"
        self.assertEqual(rocm_patch.select_device(policy="cpu"), "cuda")
        with open(args) as f:
            self.assertEqual(f.read(), "doctor --json --policy cpu --root /some/tree\n")

    def test_bad_policy_is_a_caller_error(self):
        with self.assertRaises(ValueError):
            rocm_patch.select_device(policy="gpu")
        with self.assertRaises(ValueError):
            rocm_patch.safeguard(policy="CPU")
        # force_gpu_unsafe decides the policy whatever policy says.
        self.assertEqual(rocm_patch.safeguard(policy="any", force_gpu_unsafe=True), "cpu")


class ReportThroughputTest(APICase):
    def report(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ok = rocm_patch.report_throughput(*args)
        return ok, out.getvalue()

    def test_lines(self):
        for value, unit, want in (
            (123.5, "samples/s", "rocm-patch: throughput=123.5 samples/s\n"),
            (7, "tok/s", "rocm-patch: throughput=7 tok/s\n"),
            (0, "it/s", "rocm-patch: throughput=0 it/s\n"),
            (1e20, "img/s", "rocm-patch: throughput=1e+20 img/s\n"),
            (2.5e-7, "batch/s", "rocm-patch: throughput=2.5e-07 batch/s\n"),
        ):
            with self.subTest(value=value):
                self.assertEqual(self.report(value, unit), (True, want))
        self.assertEqual(self.logged(), [])

    @unittest.skipUnless(HAVE_TORCH, "needs torch")
    def test_tensor_value(self):
        import torch

        self.assertEqual(self.report(torch.tensor(4.25), "it/s"), (True, "rocm-patch: throughput=4.25 it/s\n"))

    def test_refused_without_raising(self):
        for value, unit in (
            (float("nan"), "it/s"),
            (float("inf"), "it/s"),
            (-1, "it/s"),
            (True, "it/s"),
            ("fast", "it/s"),
            (None, "it/s"),
            (10**400, "it/s"),
            (1.0, ""),
            (1.0, "two words"),
            (1.0, "x" * 33),
            (1.0, "it/s\n"),
            (1.0, 5),
        ):
            with self.subTest(value=value, unit=unit):
                self.records.messages.clear()
                self.assertEqual(self.report(value, unit), (False, ""))
                self.assertEqual(len(self.logged()), 1)


class ImportTest(unittest.TestCase):
    def test_import_is_free(self):
        p = subprocess.run(
            [sys.executable, "-c", "import sys, rocm_patch; print(sorted(m for m in ('torch', 'subprocess', 'logging', 'rocm_patch.api', 'rocm_patch.shim') if m in sys.modules), callable(rocm_patch.select_device), 'rocm_patch.api' in sys.modules)"],
            env=clean_env(PYTHONPATH=SHIM_DIR),
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertEqual(p.stdout, "[] True True\n")

    def test_submodules_and_unknown_names(self):
        from rocm_patch import shim  # noqa: F401  the shim's import still works

        with self.assertRaises(AttributeError):
            rocm_patch.no_such_name
        self.assertIn("safeguard", dir(rocm_patch))


if __name__ == "__main__":
    unittest.main()
