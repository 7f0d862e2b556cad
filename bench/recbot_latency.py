"""Seconds per feed command for a parser/planner model on the engine and on in-process transformers, measured
side by side in one run, with where the time goes.

    python bench/recbot_latency.py [--model qwen2.5-coder-0.5b] [--commands 12] [--out FILE.json]

Commands come from seeded simulated sessions (template commands) on the embedded fashion catalogue; each one
runs the whole turn (parse, plan, act) as the demo server runs it, JSON schemas enforced. One warm-up command
per backend is not counted (it loads the model and, on the engine, fills the prompt cache with the system
prompt and the catalogue, as a running server has). Prints p50/p90 seconds per command per backend, their
ratio, and the split of a command's time: prefill and decode (as the engine's server reports them; transformers
does not split them), tools and re-ranking (`act`), and the rest. Measure on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from _results import load_results, save_results
from agentdistill.llm import load_chat_model
from agentdistill.llm.base import AgentChatModel, Capabilities, Completion, SamplingParams
from agentdistill.llm.precision import cpu_hardware
from agentdistill.pipeline.markdown import markdown_rows
from agentdistill.pipeline.recbot import FeedAgentSettings
from agentdistill.recsys.catalog import open_catalog
from agentdistill.recsys.session import FeedServices, FeedSession
from agentdistill.recsys.simulator import SimulatedUser, draw_target


class Recording(AgentChatModel):
    """Passes every call to `inner` and keeps its completions (tokens and the server's timings)."""

    inner: Any
    completions: list[Completion] = Field(default_factory=list)

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def complete_batch(self, conversations, params: SamplingParams | None = None):
        results = self.inner.complete_batch(conversations, params)
        self.completions.extend(c for row in results for c in row)
        return results


def commands(catalog, count: int) -> list[tuple[int, str]]:
    """(session number, command) pairs: whole simulated sessions, in order, until `count` commands."""
    out: list[tuple[int, str]] = []
    number = 0
    while len(out) < count:
        r = random.Random(number)
        user = SimulatedUser(catalog, draw_target(catalog, r), r)
        out += [(number, user.next_command()) for _ in range(len(user.unsaid) + 1)]
        number += 1
    return out[:count]


def measure(model_name: str, backend: str, catalog_spec: str, count: int) -> dict:
    catalog = open_catalog(catalog_spec)
    services = FeedServices(catalog)
    engine, _, variant = backend.partition("+")
    options = {"engine_args": VARIANTS[variant]} if variant else {}
    model = Recording(model_id=model_name, inner=load_chat_model(model_name, backend=engine, **options))
    # as `recbot eval` and `serve` build them: a distilled student runs with the short prompts it learned
    parser, planner = FeedAgentSettings(parser_model=model_name).agents(catalog, model, model)
    sessions: dict[int, FeedSession] = {}
    FeedSession(services, parser, planner).command("show me red dresses")  # warm-up, not counted
    rows = []
    for number, text in commands(catalog, count):
        session = sessions.setdefault(number, FeedSession(services, parser, planner))
        model.completions.clear()
        started = time.perf_counter()
        turn = session.command(text)
        total = time.perf_counter() - started
        calls = list(model.completions)
        rows.append(
            {
                "command": text,
                "seconds": total,
                "parse_s": turn.seconds.get("parse", 0.0),
                "plan_s": turn.seconds.get("plan", 0.0),
                "act_s": turn.seconds.get("act", 0.0),
                "calls": len(calls),
                "prompt_tokens": sum(c.prompt_tokens for c in calls),
                "cached_tokens": sum(c.cached_tokens or 0 for c in calls),
                "generated_tokens": sum(c.completion_tokens for c in calls),
                "prefill_s": sum(c.prefill_ms or 0.0 for c in calls) / 1000,
                "decode_s": sum(c.decode_ms or 0.0 for c in calls) / 1000,
                "timed": all(c.prefill_ms is not None for c in calls),
                "error": turn.error,
            }
        )
        print(f"{backend}: {total:5.1f} s  {text}")
    model.inner.close()
    return {"commands": rows}


# engine variants: `engine+NAME` runs the engine with these extra llama-server flags
VARIANTS = {
    # n-gram speculation: drafts the tokens that followed the last n-gram where it occurred before in the
    # context (the schema's keys and the prompt's examples repeat), verified in one batch; greedy output is
    # unchanged
    "ngram": ("--spec-type", "ngram-simple"),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="Parser/planner model (a name or hf:PATH).")
    parser.add_argument("--catalog", default="default")
    parser.add_argument("--commands", type=int, default=12)
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["engine", "transformers"],
        help=f"engine, transformers, or engine+VARIANT ({', '.join(VARIANTS)}).",
    )
    parser.add_argument("--out", type=Path, help="Result file (JSON); backends already in it are not run again.")
    args = parser.parse_args()
    header = {"cpu": cpu_hardware().name, "model": args.model, "catalog": args.catalog, "commands": args.commands}
    results = load_results(args.out, header, ("cpu", "model", "catalog", "commands"))
    for backend in args.backends:
        if backend not in results["rows"]:
            results["rows"][backend] = measure(args.model, backend, args.catalog, args.commands)
            save_results(args.out, results)
    print(render(results))


def render(results: dict) -> str:
    lines = [
        f"CPU: {results['cpu']}; model {results['model']} as parser and planner, catalogue {results['catalog']}, "
        f"{results['commands']} commands per backend, JSON schemas enforced.",
        "",
    ]
    header = ["backend", "p50 s/command", "p90 s/command", "parse s", "plan s", "act (tools, re-ranking) s"]
    header += ["prefill s", "decode s", "prompt tokens (cached)", "generated tokens"]
    rows = []
    p50 = {}
    for backend, row in results["rows"].items():
        done = row["commands"]
        seconds = [c["seconds"] for c in done]
        p50[backend] = statistics.median(seconds)

        def mean(key: str, rows: list[dict] = done) -> float:
            return statistics.mean(c[key] for c in rows)

        timed = all(c["timed"] for c in done)  # transformers does not split prefill from decode
        prefill, decode = (f"{mean(k):.2f}" if timed else "-" for k in ("prefill_s", "decode_s"))
        rows.append(
            [
                backend,
                f"{p50[backend]:.2f}",
                f"{percentile(seconds, 0.9):.2f}",
                f"{mean('parse_s'):.2f}",
                f"{mean('plan_s'):.2f}",
                f"{mean('act_s'):.3f}",
                prefill,
                decode,
                f"{mean('prompt_tokens'):.0f} ({mean('cached_tokens'):.0f})",
                f"{mean('generated_tokens'):.0f}",
            ]
        )
    lines.append(markdown_rows(header, rows))
    if {"engine", "transformers"} <= set(p50):
        lines += ["", f"p50 transformers / engine: {p50['transformers'] / p50['engine']:.1f}x"]
    for variant in (b for b in p50 if b.startswith("engine+") and "engine" in p50):
        lines += ["", f"p50 engine / {variant}: {p50['engine'] / p50[variant]:.2f}x"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
