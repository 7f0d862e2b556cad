"""The README's measured tables are generated from committed result files, never typed."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_generator():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "bench" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_match_their_result_files():
    generator = load_generator()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = generator.BLOCK.findall(text)
    assert blocks, "the README has no generated table"
    assert generator.regenerate(text) == text, "a table differs from its result file: run bench/readme_tables.py"


def test_a_typed_edit_is_caught():
    generator = load_generator()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = generator.BLOCK.search(text)
    edited = text[: match.start("body")] + match.group("body").replace("|", "| 99 ", 1) + text[match.end("body") :]
    assert generator.regenerate(edited) == text
