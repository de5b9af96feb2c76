"""rocm-patch's Python API: pick the device, keep risky GPUs away from torch.

    import rocm_patch
    device = rocm_patch.safeguard()          # before torch touches the GPU
    model.to(device)
    ...
    rocm_patch.report_throughput(412.5, "samples/s")

select_device() answers "cuda" or "cpu"; safeguard() also applies what the
answer needs to the environment (hiding high-risk GPUs under policy cpu), so
call it before anything initialises torch's GPU runtime. Both take the
answer from `rocm-patch run` when the script runs under it
(ROCM_PATCH_DEVICE), and otherwise ask the rocm-patch binary once per policy
(`rocm-patch doctor --json`) and keep its answer for the process.

The binary is, in this order: $ROCM_PATCH_BIN; `rocm-patch` next to this
package (`rocm-patch python-path` puts a link to itself there); `rocm-patch`
on PATH. ROCM_PATCH_ROOT, when set, is passed on as `--root` (a recorded
machine, for tests).

Nothing here raises into the caller's script over the binary: when it is
missing, fails or answers nonsense, the API says so once on the "rocm_patch"
logger and answers "cpu", the answer that cannot crash a GPU. Only a policy
that does not exist raises ValueError, at the call that names it.

Importing this module starts no process and imports no torch.
"""

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import threading

__all__ = ["POLICIES", "select_device", "safeguard", "apply_gfx1030_safeguard", "report_throughput"]

#: The policies, as `rocm-patch doctor --policy` and `rocm-patch run` name
#: them: mitigate (the GPU with the environment layer), cpu (high-risk GPUs
#: hidden), force-gpu-unsafe (every GPU, no safeguards).
POLICIES = ("mitigate", "cpu", "force-gpu-unsafe")

BINARY = "rocm-patch"
DOCTOR_SCHEMA = "rocm-patch/doctor/v1"
# doctor reads sysfs and a few files; a minute means it hangs.
DOCTOR_TIMEOUT_S = 60
# The report parser's bound on a unit (internal/report).
_MAX_UNIT_BYTES = 32
# doctor's exit codes: 0 risk none or low, 3 risk medium or high. Both carry
# the document; 1 and 2 are failures.
_DOCTOR_OK = (0, 3)

log = logging.getLogger("rocm_patch")

_lock = threading.Lock()
_cache = {}
_said = set()


class _Decision:
    """One answer: the device, why, and what the environment needs."""

    def __init__(self, device, source, policy):
        self.device = device  # "cuda" | "cpu"
        self.source = source  # "run" | "doctor" | "fallback"
        self.policy = policy
        self.reason = ""  # why the answer is "cpu" (or what went wrong)
        self.env = []  # (name, value or None to unset, why), as doctor's plan.env
        self.hidden = []  # (GPU, why, "GPU i"), one per GPU the plan hides
        self.hide_names = set()  # the plan.env variables that hide them
        self.kept = []  # one description per GPU the plan keeps
        self.warnings = []  # plan.warnings


def _say(msg, level=logging.WARNING):
    log.log(level, "rocm-patch: %s", msg)


def _say_once(msg, level=logging.WARNING):
    with _lock:
        if msg in _said:
            return
        _said.add(msg)
    _say(msg, level)


def _check_policy(policy, force_gpu_unsafe):
    if force_gpu_unsafe:
        return "force-gpu-unsafe"
    if policy not in POLICIES:
        raise ValueError("rocm_patch: policy %r: want one of %s" % (policy, ", ".join(POLICIES)))
    return policy


def _find_binary(environ):
    """Returns (path, None) or (None, why not found)."""
    explicit = environ.get("ROCM_PATCH_BIN", "")
    if explicit:
        return explicit, None
    beside = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), BINARY)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside, None
    found = shutil.which(BINARY, path=environ.get("PATH", os.defpath))
    if found:
        return found, None
    why = "not found next to the package (%s) nor on PATH" % beside
    if os.path.islink(beside):
        why = (
            "the link next to the package (%s) leads to %s, which is gone, and none is on PATH "
            "(run `rocm-patch python-path --install` again with the binary you use now)" % (beside, os.readlink(beside))
        )
    return None, why


def _gpu_text(g):
    parts = [p for p in (g.get("name"), g.get("gfx_target")) if isinstance(p, str) and p]
    text = "GPU %s" % g.get("index", "?")
    if parts:
        text += " (%s)" % ", ".join(parts)
    return text


def _risk_text(g):
    reasons = g.get("reasons") or []
    first = reasons[0] if reasons and isinstance(reasons[0], str) else ""
    risk = g.get("risk") or "unknown"
    return "%s risk because %s" % (risk, first) if first else "%s risk" % risk


def _from_doctor(doc, policy):
    """Reads doctor's document into a decision; raises ValueError when it is
    not one."""
    if not isinstance(doc, dict) or doc.get("schema") != DOCTOR_SCHEMA:
        raise ValueError("not a %s document" % DOCTOR_SCHEMA)
    plan = doc.get("plan")
    if not isinstance(plan, dict) or plan.get("device") not in ("gpu", "cpu"):
        raise ValueError("no plan with a device")
    d = _Decision("cuda" if plan["device"] == "gpu" else "cpu", "doctor", policy)
    for e in plan.get("env") or []:
        name = e.get("name") if isinstance(e, dict) else None
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise ValueError("plan.env entry %r" % (e,))
        value = None if e.get("unset") else e.get("value", "")
        if value is not None and (not isinstance(value, str) or "\0" in value):
            raise ValueError("plan.env value for %s" % name)
        d.env.append((name, value, e.get("why") or ""))
    gpus = {}
    for g in doc.get("gpus") or []:
        if isinstance(g, dict):
            gpus[g.get("index")] = g
    for i in plan.get("hidden") or []:
        g = gpus.get(i, {"index": i})
        d.hidden.append((_gpu_text(g), _risk_text(g), "GPU %s" % i))
        dec = g.get("decision") if isinstance(g.get("decision"), dict) else {}
        for h in (dec.get(policy) or {}).get("hide") or []:
            if isinstance(h, dict) and isinstance(h.get("name"), str):
                d.hide_names.add(h["name"])
    for i in plan.get("gpus") or []:
        d.kept.append(_gpu_text(gpus.get(i, {"index": i})))
    d.warnings = [w for w in plan.get("warnings") or [] if isinstance(w, str)]
    if d.device == "cpu":
        d.reason = _cpu_reason(doc, gpus, d, policy)
    return d


def _hidden_text(hidden):
    return "; ".join("%s: %s" % (gpu, risk) for gpu, risk, _ in hidden)


def _cpu_reason(doc, gpus, d, policy):
    if d.hidden:
        return "policy %s keeps the job off %s" % (policy, _hidden_text(d.hidden))
    for g in gpus.values():
        dec = (g.get("decision") or {}).get(policy) if isinstance(g.get("decision"), dict) else None
        dec = dec if isinstance(dec, dict) else {}
        if g.get("in_use") and dec.get("device") == "cpu" and dec.get("reason"):
            return "%s: %s" % (_gpu_text(g), dec["reason"])
    for f in doc.get("findings") or []:
        if isinstance(f, dict) and f.get("message"):
            return f["message"]
    for r in doc.get("reasons") or []:
        if isinstance(r, str):
            return r
    return "no GPU is available to this process"


def _ask_doctor(binary, policy, environ):
    argv = [binary, "doctor", "--json", "--policy", policy]
    root = environ.get("ROCM_PATCH_ROOT", "")
    if root:
        argv += ["--root", root]
    cmd = " ".join(argv)
    try:
        p = subprocess.run(
            argv,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=DOCTOR_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("`%s` did not answer in %d s" % (cmd, DOCTOR_TIMEOUT_S))
    except OSError as exc:
        raise RuntimeError("cannot start `%s`: %s" % (cmd, exc))
    if p.returncode not in _DOCTOR_OK:
        err = p.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError("`%s` failed (exit %d%s)" % (cmd, p.returncode, ": " + err[-1] if err else ""))
    try:
        doc = json.loads(p.stdout.decode("utf-8"))
        return _from_doctor(doc, policy)
    except Exception as exc:  # any shape of nonsense is a broken binary
        raise RuntimeError("`%s` printed no usable answer (%s: %s)" % (cmd, type(exc).__name__, exc))


def _fallback(policy, why):
    d = _Decision("cpu", "fallback", policy)
    d.reason = "%s; answering \"cpu\", the safe answer" % why
    return d


def _decide(policy, environ):
    """The decision for policy: from `rocm-patch run`, else from doctor
    (cached per binary, root and policy), else the safe fallback."""
    under_run = environ.get("ROCM_PATCH_DEVICE")
    if under_run is not None:
        if under_run == "gpu":
            return _Decision("cuda", "run", policy)
        d = _Decision("cpu", "run", policy)
        if under_run == "cpu":
            d.reason = "rocm-patch run runs this attempt on the CPU (ROCM_PATCH_DEVICE=cpu)"
        else:
            d.source = "fallback"
            d.reason = "ROCM_PATCH_DEVICE=%r is neither gpu nor cpu; answering \"cpu\", the safe answer" % under_run
        return d
    binary, why = _find_binary(environ)
    if binary is None:
        return _fallback(policy, "cannot ask the rocm-patch binary: " + why)
    key = (binary, environ.get("ROCM_PATCH_ROOT", ""), policy)
    with _lock:
        d = _cache.get(key)
    if d is not None:
        return d
    try:
        d = _ask_doctor(binary, policy, environ)
    except RuntimeError as exc:
        d = _fallback(policy, str(exc))
    with _lock:
        # A racing thread may have asked too; the first answer stays, so
        # every caller in the process sees the same one.
        d = _cache.setdefault(key, d)
    return d


def _override_hint(policy):
    if policy == "cpu":
        return (
            "To use the GPU anyway: policy=\"mitigate\" (better under `rocm-patch run`, which moves "
            "to the CPU after GPU faults) or force_gpu_unsafe=True (no safeguards at all)"
        )
    return "force_gpu_unsafe=True uses every GPU, with no safeguards"


def select_device(policy="mitigate", force_gpu_unsafe=False):
    """Returns "cuda" or "cpu": where this process should train.

    Under `rocm-patch run` the answer is the supervisor's (ROCM_PATCH_DEVICE);
    otherwise it is the plan of `rocm-patch doctor --policy POLICY`, asked
    once and kept. force_gpu_unsafe=True is policy "force-gpu-unsafe". The
    reason for a "cpu" answer is logged (once) on the "rocm_patch" logger.
    This function changes nothing: safeguard() also hides the GPUs the plan
    keeps the job off.
    """
    policy = _check_policy(policy, force_gpu_unsafe)
    try:
        d = _decide(policy, os.environ)
        if d.device == "cpu":
            _say_once('select_device answers "cpu": %s' % d.reason)
        elif d.hidden:
            _say_once(
                'select_device answers "cuda" for %s, but policy %s keeps the job off %s: '
                "call rocm_patch.safeguard(policy=%r) before torch uses the GPU, so that \"cuda\" "
                "means only the GPUs kept" % (", ".join(d.kept), policy, _hidden_text(d.hidden), policy)
            )
        return d.device
    except Exception as exc:  # never into the caller's script
        _say_once("select_device failed (%s: %s); answering \"cpu\", the safe answer" % (type(exc).__name__, exc))
        return "cpu"


def _torch_gpu_initialised():
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        return bool(torch.cuda.is_initialized())
    except Exception:
        return False


def _apply_env(env, environ):
    for name, value, _ in env:
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


def _env_text(env):
    return " ".join(("unset %s" % n) if v is None else '%s="%s"' % (n, v) for n, v, _ in env)


def safeguard(policy="cpu", force_gpu_unsafe=False):
    """Decides the device as select_device() does and applies the plan's
    environment to this process: under policy cpu the visibility variables
    that hide every high-risk GPU, under the others their environment layer.
    Returns "cuda" or "cpu".

    Call it before anything initialises torch's GPU runtime
    (torch.cuda.is_available() included): ROCm reads these variables once,
    then. Called later, it says so and still answers, and the variables then
    reach only the processes this one starts. Under `rocm-patch run` the
    supervisor has set the environment already, and this only answers.
    When a GPU is hidden it warns once, naming the GPU, why, and how to
    override.
    """
    policy = _check_policy(policy, force_gpu_unsafe)
    try:
        return _safeguard(policy, os.environ)
    except Exception as exc:
        _say_once("safeguard failed (%s: %s); answering \"cpu\", the safe answer" % (type(exc).__name__, exc))
        return "cpu"


def _safeguard(policy, environ):
    d = _decide(policy, environ)
    if d.source != "doctor":
        if d.device == "cpu":
            why = d.reason
            if d.source == "fallback":
                why += " (no GPU hidden: only rocm-patch's plan says which to hide)"
            _say_once('safeguard answers "cpu": %s' % why)
        return d.device
    late = _torch_gpu_initialised()
    _apply_env(d.env, environ)
    if len(d.hidden) == 1:
        risks = "it is " + d.hidden[0][1]
    else:
        risks = "; ".join("%s is %s" % (short, risk) for _, risk, short in d.hidden)
    if late and d.hidden:
        _say_once(
            "torch had already initialised the GPU when safeguard() ran, so it cannot hide %s from this "
            "process any more (the variables it set reach only the processes this one starts): %s. "
            "Keep to the device returned, \"%s\", and call rocm_patch.safeguard() before anything uses torch.cuda"
            % (", ".join(h[0] for h in d.hidden), risks, d.device)
        )
    elif late and d.env:
        _say_once(
            "torch had already initialised the GPU when safeguard() ran, so %s changes nothing in this process "
            "(only in the processes it starts): call rocm_patch.safeguard() before anything uses torch.cuda" % _env_text(d.env)
        )
    elif d.hidden:
        where = "the job runs on the CPU" if d.device == "cpu" else "the job uses %s" % ", ".join(d.kept)
        variables = _env_text([e for e in d.env if e[0] in d.hide_names]) or "its visibility variables"
        _say_once("hiding %s from this process (%s): %s; %s. %s" % (", ".join(h[0] for h in d.hidden), variables, risks, where, _override_hint(policy)))
    if d.device == "cpu" and not d.hidden:
        _say_once('safeguard answers "cpu": %s' % d.reason)
    for w in d.warnings:
        _say_once(w)
    if policy == "mitigate" and d.device == "cuda":
        _say_once(
            "in-process, policy mitigate applies the environment layer only; supervision and the "
            "move to the CPU after GPU faults need `rocm-patch run`",
            logging.INFO,
        )
    return d.device


#: The name the project's documentation used for safeguard().
apply_gfx1030_safeguard = safeguard


def report_throughput(value, unit):
    """Prints `rocm-patch: throughput=<value> <unit>` on stdout (flushed):
    the line `rocm-patch run` keeps as the job's speed, for `rocm-patch
    report`'s speedups. value is a rate, larger meaning faster (412.5 with
    "samples/s"); unit is one word. A value that is not a finite number >= 0,
    or a unit that is not one printable word of at most 32 bytes, prints
    nothing and is logged: a bad measurement never stops training.
    Returns whether the line was printed.
    """
    try:
        if isinstance(value, bool):
            raise ValueError("a bool")
        if isinstance(value, int):
            text, v = str(value), float(value)
        else:
            v = float(value)
            text = repr(v)
        if not math.isfinite(v) or v < 0:
            raise ValueError("not a finite number >= 0")
    except (TypeError, ValueError, OverflowError) as exc:
        _say("report_throughput: value %r: %s; nothing reported" % (value, exc))
        return False
    if (
        not isinstance(unit, str)
        or not unit
        or len(unit.encode("utf-8", "replace")) > _MAX_UNIT_BYTES
        or not unit.isprintable()
        or any(c.isspace() for c in unit)
    ):
        _say("report_throughput: unit %r: want one printable word of at most %d bytes; nothing reported" % (unit, _MAX_UNIT_BYTES))
        return False
    out = sys.stdout
    if out is None:
        return False
    try:
        out.write("rocm-patch: throughput=%s %s\n" % (text, unit))
        out.flush()
    except Exception as exc:
        _say("report_throughput: cannot write to stdout: %s" % exc)
        return False
    return True


def _test_reset():
    """Forgets cached answers and what was said (tests)."""
    with _lock:
        _cache.clear()
        _said.clear()
