import json

import pytest

from agentdistill.tools.corpora import countries_passages
from agentdistill.tools.retriever import CorpusError, Retriever, read_corpus


@pytest.fixture(scope="module")
def countries():
    return Retriever.build(countries_passages())


def test_countries_corpus_comes_from_countryinfo():
    passages = countries_passages()
    assert len(passages) > 240
    namibia = next(p for p in passages if p.title == "Namibia")
    assert "Capital: Windhoek" in namibia.text and "NAD" in namibia.text and "Angola" in namibia.text


@pytest.mark.parametrize(
    "query, country",
    [
        ("What is the capital of Peru?", "Peru"),
        ("currency of the country whose capital is Windhoek", "Namibia"),
        ("Reykjavik", "Iceland"),
    ],
)
def test_search_finds_the_right_country(countries, query, country):
    hits = countries.search(query, k=3)
    assert hits[0].title == country
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_save_load_roundtrip(countries, tmp_path):
    countries.save(tmp_path / "idx")
    loaded = Retriever.load(tmp_path / "idx")
    assert [p.id for p in loaded.search("capital of Chile", 5)] == [
        p.id for p in countries.search("capital of Chile", 5)
    ]


def test_approximate_indexes_agree_on_easy_queries(countries):
    passages = countries.passages
    for kind in ("ivf", "hnsw"):
        approx = Retriever.build(passages, index_type=kind)
        assert approx.search("capital of Peru", 1)[0].title == "Peru"


def test_tool_formats_passages(countries):
    text = countries.as_tool()("capital of Peru", k=2)
    assert text.startswith("[1] Peru:") and "\n[2] " in text


def test_broken_corpus_and_index_errors(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "1", "text": "ok"}) + "\n" + '{"id": 2}\n')
    with pytest.raises(CorpusError, match=r"c.jsonl:2"):
        read_corpus(corpus)
    with pytest.raises(CorpusError, match="index build"):
        Retriever.load(tmp_path)
    with pytest.raises(CorpusError):
        Retriever.build([])


def test_build_from_jsonl_path(tmp_path):
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "title": "Cats", "text": "Cats purr."}, {"id": "b", "title": "Rust", "text": "Iron oxidises."}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows))
    retriever = Retriever.build(corpus)
    best = retriever.search("why does metal corrode", 1)[0]
    assert (best.id, best.title, best.text) == ("b", "Rust", "Iron oxidises.") and 0 < best.score <= 1
