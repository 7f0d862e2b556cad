"""Grammar libraries for JSON-schema constrained decoding on the transformers path, side by side on the
feed parser's real schema: llguidance (what `llm/grammar.py` uses) against xgrammar.

    python bench/grammar_masks.py [--model qwen2.5-coder-0.5b] [--out bench/results/grammar_masks-CPU.json]

For each library and catalogue (the embedded fashion one; MovieLens from ../shared when present): the time to
build its tokenizer view (once per model), to get a matcher for the schema (once per request: the schema
depends on the catalogue), and the time of one token mask, walked over a valid parser answer token by token
(mean and worst), beside what a decode step of the 0.5B model costs here; and the installed size of the
library with what it pulls in. xgrammar is optional (`pip install xgrammar`; it brings triton).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from _results import load_results, save_results
from agentdistill.llm import SamplingParams, load_chat_model
from agentdistill.llm.precision import cpu_hardware
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.recsys.catalog import fashion_catalog, load_movielens
from agentdistill.recsys.preferences import PreferenceUpdate, update_schema

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens-100k"
ANSWERS = {
    "fashion": {
        "add_constraints": [
            {"attribute": "colour", "op": "==", "value": "red"},
            {"attribute": "price", "op": "<", "value": 80.0},
        ],
        "add_soft": [{"text": "for a summer wedding", "positive": True}],
    },
    "movielens": {
        "add_constraints": [
            {"attribute": "genre", "op": "==", "value": "Comedy"},
            {"attribute": "year", "op": "between", "value": [1990.0, 1999.0]},
        ]
    },
}


def site_size(*packages: str) -> float:
    """Installed MB of these packages (their folders in site-packages)."""
    import importlib.util

    total = 0
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                total += sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    return total / 1e6


def walk_llguidance(tokenizer, end_tokens, vocab, schema, tokens) -> dict:
    import llguidance
    import llguidance.numpy as llnp

    from agentdistill.llm.grammar import json_schema_grammar, tokenizer_for

    started = time.perf_counter()
    ll = tokenizer_for(tokenizer, end_tokens, vocab)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    matcher = llguidance.LLMatcher(ll, json_schema_grammar(schema))
    compile_s = time.perf_counter() - started
    bitmask = np.full((1, (vocab + 31) // 32), -1, dtype=np.int32)
    steps = []
    for token in tokens:
        started = time.perf_counter()
        llnp.fill_next_token_bitmask(matcher, bitmask, 0)
        steps.append(time.perf_counter() - started)
        assert matcher.consume_token(token), matcher.get_error()
    return {"setup_s": setup, "compile_s": compile_s, "mask_ms": steps, "size_mb": site_size("llguidance")}


def walk_xgrammar(tokenizer, end_tokens, vocab, schema, tokens) -> dict | None:
    try:
        import xgrammar as xgr
    except ImportError:
        return None
    started = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab, stop_token_ids=end_tokens)
    compiler = xgr.GrammarCompiler(info, cache_enabled=False)
    setup = time.perf_counter() - started
    started = time.perf_counter()
    compiled = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False, separators=(", ", ": "))
    matcher = xgr.GrammarMatcher(compiled)
    compile_s = time.perf_counter() - started
    bitmask = xgr.allocate_token_bitmask(1, info.vocab_size)
    steps = []
    for token in tokens:
        started = time.perf_counter()
        matcher.fill_next_token_bitmask(bitmask)
        steps.append(time.perf_counter() - started)
        assert matcher.accept_token(token), f"xgrammar refused token {token} ({tokenizer.decode([token])!r})"
    size = site_size("xgrammar", "triton", "tvm_ffi")
    return {"setup_s": setup, "compile_s": compile_s, "mask_ms": steps, "size_mb": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model = load_chat_model(args.model, backend="transformers")
    tokenizer, vocab = model.tokenizer, int(model.model.config.get_text_config().vocab_size)
    ends = sorted(model.end_tokens())
    header = {"cpu": cpu_hardware().name, "model": args.model}
    results = load_results(args.out, header, ("cpu", "model"))
    catalogs = {"fashion": fashion_catalog()}
    if MOVIELENS.is_dir():
        catalogs["movielens"] = load_movielens(MOVIELENS)
    model.complete([{"role": "user", "content": "Say hi."}])  # warm up
    started = time.perf_counter()
    reply = model.complete([{"role": "user", "content": "Count to twenty."}], SamplingParams(max_new_tokens=32))[0]
    decode_ms = (time.perf_counter() - started) / max(reply.completion_tokens, 1) * 1000
    for name, catalog in catalogs.items():
        schema = update_schema(catalog)
        text = json.dumps(PreferenceUpdate.model_validate(ANSWERS[name]).model_dump(mode="json"))  # as trained
        tokens = [*tokenizer(text, add_special_tokens=False)["input_ids"], ends[0]]
        for library in ("llguidance", "xgrammar"):
            measured = (
                walk_llguidance(tokenizer, ends, vocab, schema, tokens)
                if library == "llguidance"
                else walk_xgrammar(tokenizer, ends, vocab, schema, tokens)
            )
            if measured is None:
                print(f"{library}: not installed, skipped")
                continue
            steps = [s * 1000 for s in measured.pop("mask_ms")]
            results["rows"][f"{name}|{library}"] = {
                **measured,
                "catalog": name,
                "library": library,
                "tokens": len(tokens),
                "mask_mean_ms": statistics.mean(steps),
                "mask_max_ms": max(steps),
                "decode_step_ms": decode_ms,
            }
            save_results(args.out, results)
    print(render(results))


def render(results: dict) -> str:
    lines = [
        f"CPU: {results['cpu']}; tokenizer of {results['model']}. Mask times are per decoded token, walked over "
        "a valid parser answer; a decode step of the model itself is shown for scale.",
        "",
    ]
    header = ["catalogue", "library", "tokenizer setup s", "matcher for the schema ms", "mask mean ms"]
    header += ["mask worst ms", "decode step ms", "installed MB"]
    rows = results["rows"].values()
    cells = (
        [
            row["catalog"],
            row["library"],
            f"{row['setup_s']:.2f}",
            f"{row['compile_s'] * 1000:.1f}",
            f"{row['mask_mean_ms']:.3f}",
            f"{row['mask_max_ms']:.2f}",
            f"{row['decode_step_ms']:.0f}",
            f"{row['size_mb']:.0f}",
        ]
        for row in rows
    )
    lines.append(markdown_rows(header, cells))
    by = {(r["catalog"], r["library"]): r for r in rows}
    for catalog in dict.fromkeys(r["catalog"] for r in rows):
        ll, xg = by.get((catalog, "llguidance")), by.get((catalog, "xgrammar"))
        if ll and xg:
            lines.append("")
            per_request = [r["compile_s"] * 1000 + r["mask_mean_ms"] * r["tokens"] for r in (xg, ll)]
            lines.append(
                f"{catalog}: per request (matcher + masks) xgrammar / llguidance = "
                f"{per_request[0] / per_request[1]:.2f}x; installed size {xg['size_mb'] / ll['size_mb']:.0f}x."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
