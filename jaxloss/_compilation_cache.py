"""XLA's persistent compilation cache, on by default for ``fit``.

``fit`` compiles its training program for the model, loss, optimizer and data shapes it gets: from a
fraction of a second to a few seconds. JAX reuses a compiled program within a process only for the very
same objects, so a second ``fit`` with an equal but newly built optimizer (``optax.adam(1e-2)`` written
inline), or the same script run again, compiles everything anew. XLA's persistent compilation cache keeps
compiled programs on disk, keyed by the program's text, the JAX and XLA versions, the flags and the device,
so an equal program is loaded instead of compiled; a changed one compiles anew, never stale.

Before its first compilation ``fit`` calls :func:`enable_default`, which points JAX's cache at
``$XDG_CACHE_HOME/jaxloss/xla`` (``~/.cache/jaxloss/xla`` by default) and caches every program that took
more than :data:`MIN_COMPILE_SECONDS` to compile (JAX's default, 1 s, would skip most of fit's). It does so
only where nobody has configured JAX's cache: a directory set with
``jax.config.update("jax_compilation_cache_dir", ...)`` or ``JAX_COMPILATION_CACHE_DIR``, or the cache
turned off with ``jax_enable_compilation_cache=False``, is left exactly as it is. Once on, the cache serves
every ``jax.jit`` of the process, not only fit's.

Opt out, or choose the place, with the environment variable ``JAXLOSS_COMPILATION_CACHE``: ``off`` (or
``0``, ``false``, ``no``) leaves JAX's cache off; a path uses that directory. A directory that cannot be
created or written leaves the cache off, silently (a debug log line on the ``jaxloss`` logger). The cache
is trusted code: as JAX's documentation says, never point it at a directory others can write to; the
default one is created readable by you only.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["enable_default", "default_directory", "MIN_COMPILE_SECONDS", "ENVIRONMENT_VARIABLE"]

#: The environment variable that turns the default cache off (``off``, ``0``, ``false``, ``no``) or moves it.
ENVIRONMENT_VARIABLE = "JAXLOSS_COMPILATION_CACHE"

#: Programs that took longer than this to compile are stored (set only when jaxloss enables the cache).
MIN_COMPILE_SECONDS = 0.1

_OFF = ("off", "0", "false", "no", "none")
_lock = threading.Lock()
_decided: str | None = None  # the directory enabled, "" when left alone; None before the first call
_logger = logging.getLogger("jaxloss")


def default_directory() -> str | None:
    """The directory jaxloss would use: ``JAXLOSS_COMPILATION_CACHE`` if it is a path, None if it says off,
    else ``$XDG_CACHE_HOME/jaxloss/xla`` (``~/.cache/jaxloss/xla``)."""
    chosen = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if chosen.lower() in _OFF:
        return None
    if chosen and chosen.lower() not in ("on", "1", "true", "yes", "default"):
        return os.path.abspath(os.path.expanduser(chosen))
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxloss", "xla")


def enable_default() -> str | None:
    """Turns on XLA's persistent compilation cache in jaxloss's directory, unless the user configured it.

    Idempotent and cheap after the first call (``fit`` calls it before compiling); never raises.

    Returns:
      The directory jaxloss enabled (on this call or an earlier one), or None when it left JAX's settings
      alone: a cache directory already configured, the cache disabled in JAX, the opt-out
      ``JAXLOSS_COMPILATION_CACHE=off``, or a directory that cannot be written.
    """
    global _decided
    if _decided is not None:
        return _decided or None
    with _lock:
        if _decided is None:
            try:
                _decided = _enable() or ""
            except Exception as err:  # noqa: BLE001 - a cache is an optimisation: never fail a fit for it
                _logger.debug("jaxloss: the compilation cache was left off: %r", err)
                _decided = ""
    return _decided or None


def _enable() -> str | None:
    import jax

    if jax.config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None  # the user's cache: theirs to configure
    if not jax.config.jax_enable_compilation_cache:
        return None
    directory = default_directory()
    if directory is None:
        return None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as err:
        _logger.debug("jaxloss: the compilation cache was left off: cannot create %s (%s)", directory, err)
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        _logger.debug("jaxloss: the compilation cache was left off: %s is not writable", directory)
        return None
    if jax.config.jax_persistent_cache_min_compile_time_secs == 1.0:  # JAX's default: not the user's choice
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_compilation_cache_dir", directory)
    return directory
