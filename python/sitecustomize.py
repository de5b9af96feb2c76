"""rocm-patch's start-up hook for Python processes under `rocm-patch run`.

`rocm-patch run` puts the folder holding this file (and the rocm_patch
package beside it) first on PYTHONPATH, so Python's site module imports this
module instead of any other sitecustomize. It does two things and nothing
else, because it runs in every Python process the job starts, most of which
never touch torch:

1. It puts a finder at the front of sys.meta_path that ignores every import
   except a top-level ``torch``. When torch is imported, the finder lets the
   rest of sys.meta_path find it, sets the allocator options that must be in
   the environment before torch's libraries load, and wraps the loader so
   that rocm_patch.shim runs once torch's own import has finished. After
   that the finder takes itself out of sys.meta_path.
2. It runs the sitecustomize that Python would have run without us: the next
   one on sys.path, exactly once, with errors left to propagate so that
   site.py reports them as it reports its own.

It imports nothing beyond what the interpreter has already loaded (os, sys,
and the frozen import machinery): importlib.abc alone costs about 15 ms, so
the finder is duck-typed instead of subclassing importlib.abc.MetaPathFinder.

ROCM_PATCH_SHIM_DISABLE=1 keeps the chaining but installs no finder.
"""

import os
import sys


def _is_shim_dir(entry):
    # Any folder holding a rocm_patch shim, ours or another version's (a run
    # nested in a run): chaining into another copy would patch torch twice.
    return os.path.isfile(os.path.join(entry or ".", "rocm_patch", "shim.py"))


class _TorchImportWatcher:
    """Meta-path finder that waits for `import torch` (see module doc)."""

    def __init__(self):
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        # The hot path: every import that misses sys.modules asks us first.
        if name != "torch" or self._busy:
            return None
        self._busy = True
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
        finally:
            self._busy = False
        if spec is None:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec
        shim = _load_shim()
        if shim is None:
            return spec
        try:
            shim.before_torch(spec)
        except Exception as exc:  # never break the user's `import torch`
            shim.internal_error("before_torch", exc)
        watcher = self

        def exec_then_patch(module):
            exec_module(module)
            # torch's own import succeeded; a failed one leaves us in place
            # so that a retried import is still seen.
            try:
                sys.meta_path.remove(watcher)
            except ValueError:
                pass
            try:
                shim.after_torch(module)
            except Exception as exc:
                shim.internal_error("after_torch", exc)

        try:
            # An attribute on this loader instance only: the loader class,
            # shared with every other module, stays untouched.
            loader.exec_module = exec_then_patch
        except Exception as exc:
            shim.internal_error("wrap loader", exc)
        return spec


def _load_shim():
    try:
        from rocm_patch import shim
    except Exception as exc:
        sys.stderr.write("rocm-patch: shim not loaded: %s: %s\n" % (type(exc).__name__, exc))
        return None
    return shim


def _chain_user_sitecustomize():
    machinery = sys.modules.get("_frozen_importlib_external")
    bootstrap = sys.modules.get("_frozen_importlib")
    if machinery is None or bootstrap is None:
        import importlib.machinery as machinery
        import importlib.util as bootstrap
    # Leave out our own folder by name, which costs nothing; only when what
    # is found then is another shim (or ours, spelled differently) does every
    # entry get checked on disk.
    here = os.path.dirname(__file__)
    entries = [p for p in sys.path if isinstance(p, str) and p != here]
    spec = machinery.PathFinder.find_spec("sitecustomize", entries)
    if spec is not None and _is_shim_dir(os.path.dirname(spec.origin or "")):
        entries = [p for p in entries if not _is_shim_dir(p)]
        spec = machinery.PathFinder.find_spec("sitecustomize", entries)
    if spec is None or spec.loader is None:
        return
    module = bootstrap.module_from_spec(spec)
    # The import system hands whatever is in sys.modules to site.py, so the
    # user's module takes our place: `import sitecustomize` later sees theirs.
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _cache_own_bytecode(code):
    # Python reads a .pyc even under PYTHONDONTWRITEBYTECODE or -B, which
    # only stop it writing one. Container images often set the variable, and
    # compiling this file would then cost every Python start about 0.4 ms.
    # The folder is rocm-patch's own, named by its content, so the shim
    # writes this one .pyc itself, once.
    if not sys.dont_write_bytecode:
        return
    ext = sys.modules.get("_frozen_importlib_external")
    tmp = None
    try:
        src = __file__
        pyc = ext.cache_from_source(src)
        if os.path.exists(pyc) or not os.access(os.path.dirname(src), os.W_OK):
            return
        import marshal

        st = os.stat(src)
        header = ext.MAGIC_NUMBER + (0).to_bytes(4, "little")
        header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        tmp = "%s.%d.tmp" % (pyc, os.getpid())
        with open(tmp, "wb") as f:
            f.write(header + marshal.dumps(code))
        os.replace(tmp, pyc)
        tmp = None
    except Exception:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _main():
    if os.environ.get("ROCM_PATCH_SHIM_DISABLE", "") in ("", "0"):
        if "torch" in sys.modules:
            # Too late to watch for it (something imported torch from a .pth
            # file); the shim patches it now instead.
            shim = _load_shim()
            if shim is not None:
                try:
                    shim.after_torch(sys.modules["torch"])
                except Exception as exc:
                    shim.internal_error("after_torch", exc)
        else:
            sys.meta_path.insert(0, _TorchImportWatcher())
    try:
        _chain_user_sitecustomize()
    finally:
        _cache_own_bytecode(_MODULE_CODE)


_MODULE_CODE = sys._getframe().f_code
_main()
