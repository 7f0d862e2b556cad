"""Retrieval at scale: exact faiss (flat) vs approximate (IVF, HNSW) vs BM25, on the same queries.

    python bench/retrieval.py [--passages 100000] [--queries 500]

Corpus: one passage per Materials Project entry (formula + formation energy, from
../shared/data/materials/mp_e_form.csv; CC BY 4.0, Materials Project / Matbench). Each query asks for
one formula; every passage of that formula is relevant (polymorphs share a formula). Prints queries/s,
recall@10 against the relevance labels, and the overlap of each approximate index with the exact one.
Embeddings are cached under the agentdistill cache, so a rerun skips the ~4 minutes of encoding.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from agentdistill.paths import cache_dir
from agentdistill.tools.retriever import Passage, Retriever, _new_index

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "materials" / "mp_e_form.csv"


def load_passages(limit: int) -> list[Passage]:
    from pymatgen.core import Composition

    passages = []
    with DATA.open() as rows:
        for n, row in enumerate(csv.DictReader(rows)):
            if n >= limit:
                break
            comp = Composition(row["formula"])
            names = " and ".join(sorted(el.long_name for el in comp.elements))
            text = (
                f"{comp.reduced_formula} is a compound of {names}. Its computed formation energy is "
                f"{float(row['target']):.3f} eV/atom (Materials Project entry {n})."
            )
            passages.append(Passage(id=str(n), title=comp.reduced_formula, text=text))
    return passages


def embeddings(passages: list[Passage]) -> np.ndarray:
    path = cache_dir() / "bench" / f"mp_e_form-{len(passages)}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = Retriever._embed("minilm", [p.render() for p in passages], batch_size=32, show_progress=True)
    print(
        f"encoded {len(passages)} passages in {time.perf_counter() - started:.0f} s "
        f"({len(passages) / (time.perf_counter() - started):.0f} passages/s)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def recall_at_10(results: list[list[str]], relevant: list[set[str]]) -> float:
    return sum(bool(set(r) & rel) for r, rel in zip(results, relevant, strict=False)) / len(relevant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"shared data not found at {DATA}")

    passages = load_passages(args.passages)
    by_formula: dict[str, set[str]] = defaultdict(set)
    for p in passages:
        by_formula[p.title].add(p.id)
    formulas = random.Random(0).sample(sorted(by_formula), args.queries)
    queries = [f"What is the formation energy of {f}?" for f in formulas]
    relevant = [by_formula[f] for f in formulas]
    vectors = embeddings(passages)
    query_vectors = Retriever._embed("minilm", queries)

    results: dict[str, tuple[float, list[list[str]], float]] = {}
    for kind in ("flat", "ivf", "hnsw"):
        started = time.perf_counter()
        index = _new_index(kind, vectors.shape[1], len(vectors))
        if not index.is_trained:
            index.train(vectors)
        index.add(vectors)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        _, ids = index.search(query_vectors, 10)
        qps = len(queries) / (time.perf_counter() - started)
        results[kind] = (qps, [[passages[i].id for i in row if i >= 0] for row in ids], build_s)

    from rank_bm25 import BM25Okapi

    tokenize = lambda text: re.findall(r"\w+", text.lower())  # noqa: E731
    started = time.perf_counter()
    bm25 = BM25Okapi([tokenize(p.render()) for p in passages])
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    bm25_ids = [[passages[i].id for i in np.argsort(-bm25.get_scores(tokenize(q)))[:10]] for q in queries]
    results["bm25"] = (len(queries) / (time.perf_counter() - started), bm25_ids, build_s)

    exact = results["flat"][1]
    print(f"\n{len(passages):,} passages, {len(queries)} queries, MiniLM 384-d (query encoding excluded from q/s)")
    print(f"{'method':8} {'build s':>8} {'queries/s':>10} {'recall@10':>10} {'overlap@10 w/ exact':>20}")
    for name, (qps, ids, build_s) in results.items():
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=False)])
        print(f"{name:8} {build_s:8.1f} {qps:10.1f} {recall_at_10(ids, relevant):10.3f} {overlap:20.3f}")
    flat_qps = results["flat"][0]
    print("speed vs flat: " + ", ".join(f"{k} {v[0] / flat_qps:.1f}x" for k, v in results.items() if k != "flat"))


if __name__ == "__main__":
    main()
