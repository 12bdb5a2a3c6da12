"""The catalog with x64 off, as users run it (the rest of the suite runs with x64 on, see conftest).

One fresh process runs ``_x64_off.py``: every loss in float32 and bfloat16 keeps its dtype, is
finite on random inputs, and matches the float64 NumPy reference within the dtype's tolerance.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jaxloss as jl

HERE = pathlib.Path(__file__).parent


def test_catalog_with_x64_off(record_property):
    env = {**os.environ, "JAX_ENABLE_X64": "0",
           "PYTHONPATH": os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    run = subprocess.run([sys.executable, str(HERE / "_x64_off.py")], env=env, capture_output=True, text=True,
                         timeout=600, cwd=HERE)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert {(r["name"], r["dtype"]) for r in rows} == {(e.name, d) for e in jl.catalog() for d in ("float32", "bfloat16")}
    for r in rows:
        if not r["problems"]:
            record_property("check", ("test_x64_off", f"{r['dtype']}-{r['name']}", ""))
    failures = [f"{r['name']} ({r['dtype']}): {'; '.join(r['problems'])}" for r in rows if r["problems"]]
    assert not failures, "\n".join(failures)
