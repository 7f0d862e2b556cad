"""The passive feed's base recommender (item-item collaborative filtering with a popularity fallback) and the
item embeddings (the embedded MiniLM, in a faiss index) that semantic matching uses."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from agentdistill.recsys.catalog import Catalog


class ItemKNN:
    """Item-item cosine similarity over the interaction matrix; users without history get popularity."""

    def __init__(self, catalog: Catalog, neighbours: int = 50) -> None:
        matrix = catalog.interaction_matrix()
        self.popularity = matrix.sum(axis=0) if len(matrix) else np.zeros(len(catalog.items), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=0) + 1e-9
        similarity = (matrix.T @ matrix) / np.outer(norms, norms) if len(matrix) else np.zeros((len(norms),) * 2)
        np.fill_diagonal(similarity, 0.0)
        if neighbours < similarity.shape[1]:  # keep each item's strongest neighbours only (less noise)
            cut = np.partition(similarity, -neighbours, axis=1)[:, -neighbours][:, None]
            similarity = np.where(similarity >= cut, similarity, 0.0)
        self.similarity = similarity.astype(np.float32)

    def scores(self, history: list[int]) -> np.ndarray:
        """Scores of every item for a user who interacted with `history` (item indices), scaled to [0, 1]."""
        raw = self.similarity[history].sum(axis=0) if history else np.zeros_like(self.popularity)
        raw = raw + 1e-3 * self.popularity / (self.popularity.max() or 1.0)  # popularity breaks ties, fills gaps
        return (raw - raw.min()) / (raw.max() - raw.min() or 1.0)


class ItemEmbeddings:
    """Unit-norm MiniLM embeddings of each item's text, with a faiss inner-product index for recall."""

    def __init__(self, catalog: Catalog) -> None:
        import faiss

        self.vectors = _embed_catalog(tuple(i.text for i in catalog.items))
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)

    def similarity(self, text: str) -> np.ndarray:
        """Cosine similarity of every item to `text`."""
        return self.vectors @ _embed((text,))[0]

    def search(self, text: str, k: int) -> list[int]:
        """Indices of the `k` items nearest to `text`."""
        _, hits = self.index.search(_embed((text,)), min(k, len(self.vectors)))
        return [int(h) for h in hits[0] if h >= 0]


@lru_cache(maxsize=4)
def _embed_catalog(texts: tuple[str, ...]) -> np.ndarray:
    """Embeddings of a catalogue, cached on disk by content (the embedded MiniLM is deterministic)."""
    from agentdistill.paths import cache_dir

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir() / "item-embeddings" / f"{digest}.npy"
    if path.is_file():
        return np.load(path)
    vectors = _embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


@lru_cache(maxsize=512)  # users repeat phrases across turns; each is embedded once
def _embed_one(text: str) -> np.ndarray:
    return _embed_batch([text])[0]


def _embed(texts: tuple[str, ...]) -> np.ndarray:
    if len(texts) == 1:
        return _embed_one(texts[0])[None, :]
    return _embed_batch(list(texts))


def _embed_batch(texts: list[str]) -> np.ndarray:
    from agentdistill.tools.retriever import embed

    return embed("minilm", texts, batch_size=64)  # the retriever's cached MiniLM encoder
