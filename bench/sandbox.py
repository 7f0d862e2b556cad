"""Sandbox round trip: a warm confined worker vs a cold `python -c` process per call.

    python bench/sandbox.py [--calls 50]

Prints the median latency of each and their ratio (both measured in this run, side by side).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from agentdistill.tools import PythonSandbox

CODE = "x = sum(i * i for i in range(1000))\nprint(x)"


def timed(fn, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()

    started = time.perf_counter()
    box = PythonSandbox()
    box.start()
    startup = time.perf_counter() - started
    box.run(CODE)  # first run pays for lazy imports
    warm = timed(lambda: box.run(CODE), args.calls)
    box.close()
    cold = timed(lambda: subprocess.run([sys.executable, "-c", CODE], capture_output=True, check=True), args.calls)
    cold_numpy = timed(
        lambda: subprocess.run([sys.executable, "-c", "import numpy\n" + CODE], capture_output=True, check=True),
        max(5, args.calls // 5),
    )

    warm_ms, cold_ms, numpy_ms = (1000 * statistics.median(s) for s in (warm, cold, cold_numpy))
    print(f"isolation: {', '.join(box.isolation)}")
    print(f"sandbox start (confined worker, numpy preloaded): {1000 * startup:8.1f} ms")
    print(f"warm sandbox round trip (median of {args.calls}):      {warm_ms:8.2f} ms")
    print(f"cold `python -c` per call (median of {args.calls}):     {cold_ms:8.2f} ms")
    print(f"cold `python -c` + import numpy (median):        {numpy_ms:8.2f} ms")
    print(f"ratio cold/warm: {cold_ms / warm_ms:.1f}x   (with numpy: {numpy_ms / warm_ms:.1f}x)")


if __name__ == "__main__":
    main()
