"""The catalog with x64 off, as users run JAX: run by ``test_x64_off.py`` in a fresh process.

For every registered loss and dtype (float32, bfloat16), one compiled program gives the per-example
losses and the gradient of the mean; the values must keep the dtype, be finite, and match the
float64 NumPy reference (on the same rounded inputs) within the dtype's tolerance; the gradient must
keep the dtype and be finite. Every warning is an error (a float64 request that x64-off JAX would
silently truncate warns). Prints one JSON line per (loss, dtype): ``{"name", "dtype", "problems"}``.
"""

from __future__ import annotations

import json
import sys
import warnings

TOLERANCE = {"float32": (1e-4, 1e-5), "bfloat16": (1e-2, 1e-3)}  # rtol, atol * (1 + max |reference|)


def main() -> int:
    warnings.simplefilter("error")
    import jax

    jax.config.update("jax_enable_x64", False)  # JAX's default, stated
    import _inputs as inputs
    import jax.numpy as jnp
    import numpy as np
    from references import REFERENCES

    import jaxloss as jl

    for entry in jl.catalog():
        s = inputs.sample(entry, seed=11)
        array_kwargs = {k: v for k, v in s.kwargs.items() if k in s.example_kwargs}
        static = {k: v for k, v in s.kwargs.items() if k not in s.example_kwargs}

        def values_and_grad(args, kwargs, fn=entry.fn, static=static):
            return fn(*args, **kwargs, **static, reduction="none"), jax.grad(lambda x: fn(x, *args[1:], **kwargs, **static))(args[0])

        program = jax.jit(values_and_grad)
        for dtype in (jnp.float32, jnp.bfloat16):
            dname = jnp.dtype(dtype).name
            args, _ = s.cast(dtype)
            problems = []
            try:
                out, grad = program(tuple(args), {k: np.asarray(v, np.float32) for k, v in array_kwargs.items()})
                rounded = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" or np.asarray(a).dtype == jnp.bfloat16
                           else a for a in args]
                expected = np.asarray(REFERENCES[entry.name](*rounded, **s.kwargs), np.float64)
                for what, value in (("value", out), ("gradient", grad)):
                    if value.dtype != jnp.dtype(dtype):
                        problems.append(f"{what} dtype {value.dtype}")
                    if not np.all(np.isfinite(np.asarray(value, np.float64))):
                        problems.append(f"{what} not finite")
                rtol, atol = TOLERANCE[dname]
                got = np.asarray(out, np.float64)
                if got.shape != expected.shape or not np.allclose(got, expected, rtol=rtol, atol=atol * (1 + np.abs(expected).max())):
                    err = np.max(np.abs(got - expected)) if got.shape == expected.shape else f"shape {got.shape}"
                    problems.append(f"differs from the float64 reference by {err}")
            except Exception as err:  # noqa: BLE001 (reported per loss, not fatal for the others)
                problems.append(f"{type(err).__name__}: {err}")
            print(json.dumps({"name": entry.name, "dtype": dname, "problems": problems}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
