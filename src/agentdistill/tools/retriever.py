"""Dense retrieval: the embedded MiniLM encoder and a faiss index over a passage corpus."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from agentdistill.errors import InputFileError
from agentdistill.tools.base import Tool

IndexType = Literal["flat", "ivf", "hnsw"]


class Passage(BaseModel):
    """One corpus entry; `score` is set on search results (cosine similarity)."""

    id: str
    title: str = ""
    text: str
    score: float | None = None

    def render(self) -> str:
        return f"{self.title}: {self.text}" if self.title else self.text


class CorpusError(InputFileError):
    pass


def read_corpus(path: str | Path) -> list[Passage]:
    """Read a JSONL corpus of {"id", "title", "text"} lines; a bad line is reported with its number."""
    passages = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                passages.append(Passage.model_validate_json(line))
            except ValidationError as error:
                raise CorpusError(f"{path}:{number}: not a passage ({error.errors()[0]['msg']})") from None
    if not passages:
        raise CorpusError(f"{path}: no passages")
    return passages


@lru_cache(maxsize=2)
def load_encoder(name: str = "minilm"):
    """A sentence-transformers encoder: an embedded model name or a local folder (never a hub download)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from agentdistill.llm import registry

    path = registry.model_path(name) if name in registry.EMBEDDED else Path(name)
    return SentenceTransformer(str(path), device="cpu")


def _new_index(index_type: IndexType, dim: int, count: int):
    import faiss

    if index_type == "flat":
        return faiss.IndexFlatIP(dim)
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
        return index
    nlist = max(1, min(int(4 * math.sqrt(count)), count // 39))  # faiss wants >= 39 training points a list
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.nprobe = min(16, nlist)
    return ivf


class Retriever:
    """Cosine-similarity search over passages (exact `flat` by default; `ivf`/`hnsw` for large corpora).

    >>> r = Retriever.build([Passage(id="1", text="Windhoek is the capital of Namibia.")])
    >>> r.search("capital of Namibia", k=1)[0].id
    '1'
    """

    def __init__(self, passages: Sequence[Passage], index, encoder: str = "minilm", index_type: IndexType = "flat"):
        self.passages, self.index, self.encoder, self.index_type = list(passages), index, encoder, index_type

    @classmethod
    def build(
        cls,
        passages: Iterable[Passage] | str | Path,
        encoder: str = "minilm",
        index_type: IndexType = "flat",
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> Retriever:
        """Embed `passages` (or a JSONL corpus path) and index them."""
        passages = read_corpus(passages) if isinstance(passages, (str, Path)) else list(passages)
        if not passages:
            raise CorpusError("cannot build an index over zero passages")
        vectors = embed(encoder, [p.render() for p in passages], batch_size, show_progress)
        index = _new_index(index_type, vectors.shape[1], len(vectors))
        if not index.is_trained:
            index.train(vectors)
        index.add(vectors)
        return cls(passages, index, encoder, index_type)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The `k` passages most similar to `query`, best first, with scores."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: Sequence[str], k: int = 5) -> list[list[Passage]]:
        if not queries:
            return []
        scores, ids = self.index.search(embed(self.encoder, list(queries)), min(k, len(self.passages)))
        return [
            [
                self.passages[i].model_copy(update={"score": float(s)})
                for s, i in zip(row_s, row_i, strict=False)
                if i >= 0
            ]
            for row_s, row_i in zip(scores, ids, strict=False)
        ]

    def save(self, folder: str | Path) -> Path:
        """Write index.faiss, passages.jsonl and meta.json into `folder`."""
        import faiss

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / "index.faiss"))
        with (folder / "passages.jsonl").open("w", encoding="utf-8") as out:
            for p in self.passages:
                out.write(p.model_dump_json(exclude={"score"}) + "\n")
        meta = {"encoder": self.encoder, "index_type": self.index_type, "count": len(self.passages)}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Retriever:
        import faiss

        folder = Path(folder)
        missing = [f for f in ("index.faiss", "passages.jsonl", "meta.json") if not (folder / f).exists()]
        if missing:
            raise CorpusError(
                f"{folder} is not a retriever index (missing {', '.join(missing)}); "
                "build one with: agentdistill index build CORPUS.jsonl --out DIR"
            )
        meta = json.loads((folder / "meta.json").read_text())
        index = faiss.read_index(str(folder / "index.faiss"))
        passages = read_corpus(folder / "passages.jsonl")
        if index.ntotal != len(passages):
            raise CorpusError(f"{folder}: index holds {index.ntotal} vectors but there are {len(passages)} passages")
        return cls(passages, index, meta.get("encoder", "minilm"), meta.get("index_type", "flat"))

    def as_tool(self, name: str = "retrieve", default_k: int = 3) -> Tool:
        """A `retrieve(query, k)` tool that returns the top passages as text the model can read."""

        def retrieve(query: str, k: int = default_k) -> str:
            hits = self.search(query, k=max(1, min(k, 10)))
            return "\n".join(f"[{n}] {p.render()}" for n, p in enumerate(hits, 1))

        return Tool(
            retrieve,
            name=name,
            description=(
                "Search the knowledge base; returns the k most relevant passages as text. Print the result to read it."
            ),
        )


def embed(encoder: str, texts: list[str], batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
    """Unit-length float32 embeddings of `texts` by an embedded encoder (cached once loaded)."""
    vectors = load_encoder(encoder).encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        show_progress_bar=show_progress,
        convert_to_numpy=True,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
