"""Regenerate the README's measured tables from the committed result files they come from.

    python bench/readme_tables.py          # rewrite README.md in place
    python bench/readme_tables.py --check  # exit 1 if a table differs from its result file

A generated table sits between `<!-- table: bench/results/NAME-....json -->` and `<!-- /table -->`; the
benchmark `bench/NAME.py` that wrote the file renders it (`render(results) -> markdown`). A `.txt` result file
(a benchmark's printed output, kept with `--out`) goes in as it is, in a console block; a `.md` one (a report
a command wrote) as it is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def render_file(path: str) -> str:
    """The table of one result file, rendered by the benchmark named by the file's prefix."""
    result = ROOT / path
    if result.suffix == ".txt":
        return "```console\n" + result.read_text(encoding="utf-8").rstrip("\n") + "\n```"
    if result.suffix == ".md":  # a report a command wrote (e.g. `agentdistill report`), markdown already
        return result.read_text(encoding="utf-8").rstrip("\n")
    bench = ROOT / "bench" / f"{result.name.split('-')[0]}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{bench.stem}", bench)
    if spec is None or spec.loader is None or not bench.is_file():
        raise FileNotFoundError(f"no benchmark {bench} renders {path}")
    module = importlib.util.module_from_spec(spec)
    if str(bench.parent) not in sys.path:
        sys.path.insert(0, str(bench.parent))  # benchmarks share bench/_results.py, as when run as scripts
    spec.loader.exec_module(module)
    return module.render(json.loads(result.read_text(encoding="utf-8")))


def regenerate(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render_file(m.group("path")) + "\n" + m.group(4), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 on a difference.")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = regenerate(text)
    if args.check:
        sys.exit(0 if new == text else 1)
    readme.write_text(new, encoding="utf-8")
    print(f"{len(BLOCK.findall(text))} tables regenerated in {readme}")


if __name__ == "__main__":
    main()
