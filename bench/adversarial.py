"""The adversarial catalogue against the sandbox: each hostile snippet, whether it was contained, how long
the host took to answer, and what the code was told; then `contained N/N`.

    python bench/adversarial.py

The snippets and their checks live in `tests/hostile_snippets.py` (CI runs them as tests too).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile_snippets import CATALOGUE, Host, make_sandbox, run_one


def main() -> None:
    box = make_sandbox()
    print(f"isolation: {', '.join(box.isolation)}")
    print(f"{'threat':40} {'contained':9} {'s':>6}  what the code was told")
    contained = 0
    try:
        for hostile in CATALOGUE:
            host = Host()
            try:
                ok, took, said = run_one(box, hostile, host)
            finally:
                shutil.rmtree(host.dir, ignore_errors=True)
            contained += ok
            print(f"{hostile.threat:40} {'yes' if ok else 'NO':9} {took:6.2f}  {said}", flush=True)
    finally:
        box.close()
    print(f"contained {contained}/{len(CATALOGUE)}")
    sys.exit(0 if contained == len(CATALOGUE) else 1)


if __name__ == "__main__":
    main()
