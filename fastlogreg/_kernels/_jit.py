"""The ``jit`` decorator that every kernel uses.

Kernels are compiled with ``cache=True`` so that a second process loads machine code from disk
instead of compiling again. Numba writes its cache next to the source file, or into the user's
cache folder when the package folder is read-only. When neither can be written (a read-only
install with no writable home, for example), Numba refuses ``cache=True`` at decoration time;
the kernels are then compiled in every process instead, and the package still imports.
"""

import warnings

import numba


def _decorate(function, options):
    # Kernels hold no Python objects, so they release the GIL: threads that run kernels on
    # different data (cross-validation folds, say) then run in parallel.
    options.setdefault("nogil", True)
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as error:
        # Numba raises RuntimeError("cannot cache function ...: no locator available ...").
        if "cannot cache" not in str(error):
            raise
        warnings.warn(
            f"fastlogreg cannot write a Numba cache for {function.__qualname__}: {error}. "
            "Kernels are compiled in every process; set NUMBA_CACHE_DIR to a writable "
            "folder to keep them between processes.",
            RuntimeWarning,
            stacklevel=3,
        )
        return numba.njit(cache=False, **options)(function)


def jit(function=None, **options):
    """Compile ``function`` with ``numba.njit(cache=True, **options)``.

    Falls back to an uncached compile when no cache folder is writable.
    """
    if function is None:
        return lambda f: _decorate(f, options)
    return _decorate(function, options)
