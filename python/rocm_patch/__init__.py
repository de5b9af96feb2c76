"""rocm-patch's in-process shim for PyTorch (see README.md beside this file).

The package is written by `rocm-patch run` into a versioned cache folder and
loaded only when the job imports torch; importing it does nothing by itself.
"""
