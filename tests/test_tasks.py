import json

import pytest

from agentdistill.tasks import TaskFileError, load_suite, load_task_file, score_task
from agentdistill.tasks.metrics import alias_match, extract_number, normalize, numeric_match, token_f1
from agentdistill.tasks.schema import Task


def test_normalize_and_text_metrics():
    assert normalize("The  Namibian Dollar!") == "namibian dollar"
    assert token_f1("Namibian dollar", "the Namibian dollar") == 1.0
    assert token_f1("dollar", "Namibian dollar") == pytest.approx(2 / 3)
    assert alias_match("It is Windhoek", "Windhoek") == 1.0
    assert alias_match("Windhoek is not the answer, Lima is, or maybe Quito, who knows", "Windhoek") == 0.0


@pytest.mark.parametrize(
    "prediction, expected",
    [
        (7006652, 7006652.0),
        ("7,006,652", 7006652.0),
        ("so \\boxed{12.5} apples", 12.5),
        ("first 3 then 42", 42.0),
        ("no number", None),
        (True, None),
    ],
)
def test_extract_number(prediction, expected):
    assert extract_number(prediction) == expected


def test_numeric_tolerance():
    assert numeric_match("139.4", "139.4") == 1.0
    assert numeric_match(139.40000001, "139.4") == 1.0
    assert numeric_match("139.5", "139.4") == 0.0
    assert numeric_match("8.52", "8.5", rel_tol=1e-2) == 1.0


def test_score_task_uses_the_task_metric_and_aliases():
    task = Task(id="t", question="q", answers=["NAD", "ZAR"], metric="alias", suite="facts")
    assert score_task(task, "ZAR") == (1.0, True)
    assert score_task(task, None) == (0.0, False)


def test_a_truth_value_answers_a_yes_no_question():
    metal = Task(id="m", question="Is Tm5Si3C a metal? Answer yes or no.", answers=["yes"], metric="alias", suite="s")
    assert score_task(metal, True) == (1.0, True)
    assert score_task(metal, "True") == (1.0, True)
    assert score_task(metal, False) == (0.0, False)
    named = Task(id="n", question="Which word?", answers=["True"], metric="exact_match", suite="s")
    assert score_task(named, True) == (1.0, True)  # a gold that is not yes/no is compared as written
    assert score_task(named, "yes") == (0.0, False)


def test_builtin_splits_are_fixed_and_disjoint():
    for suite in ("math", "facts"):
        train, test = load_suite(suite, "train"), load_suite(suite, "test")
        assert len(test) > 50 and len(train) > 2 * len(test)
        assert not {t.id for t in train} & {t.id for t in test}
        assert [t.id for t in load_suite(suite, "test", n=5, seed=1)] == [
            t.id for t in load_suite(suite, "test", n=5, seed=1)
        ]
        assert {t.id for t in load_suite(suite, "test", seed=2)} == {t.id for t in test}  # seed shuffles only


def test_math_gold_answers_are_right():
    task = next(t for t in load_suite("math", "all") if t.difficulty == "boxes")
    numbers = [int(x) for x in task.question.replace(".", " ").split() if x.isdigit()]
    boxes, per_box, sold = numbers
    assert float(task.answers[0]) == boxes * per_box - sold


def test_facts_gold_answers_come_from_countryinfo():
    from countryinfo import CountryInfo

    task = next(t for t in load_suite("facts", "all") if t.difficulty == "capital")
    country = task.question.removeprefix("What is the capital of ").removesuffix("?")
    assert task.answers == [CountryInfo(country).capital()]


def test_load_benchmark_files(tmp_path):
    hotpot = tmp_path / "hotpotqa_dev.json"
    hotpot.write_text(json.dumps([{"_id": "a1", "question": "Who?", "answer": "Ada Lovelace"}]))
    tasks = load_task_file(hotpot)
    assert tasks[0].id == "a1" and tasks[0].metric == "f1" and tasks[0].suite == "hotpotqa"
    musique = tmp_path / "musique.jsonl"
    musique.write_text(json.dumps({"id": "m", "question": "Q", "answer": "Paris", "answer_aliases": ["City of Light"]}))
    assert load_task_file(musique)[0].answers == ["Paris", "City of Light"]
    gsm = tmp_path / "gsm-hard.jsonl"
    gsm.write_text(json.dumps({"input": "2+2?", "target": 4.0}))
    assert load_task_file(gsm)[0].metric == "numeric"
    math500 = tmp_path / "math500.jsonl"
    math500.write_text(json.dumps({"problem": "Simplify", "answer": "\\frac{\\pi}{2}", "unique_id": "x"}))
    assert load_task_file(math500)[0].metric == "exact_match"  # not a number: compared as text
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(TaskFileError, match="record 1 has no question or answer"):
        load_task_file(bad)
    with pytest.raises(TaskFileError, match="unsupported"):
        load_task_file(tmp_path / "x.txt" if (tmp_path / "x.txt").write_text("x") else None)


def test_wilson_interval_matches_known_values_and_edges():
    from agentdistill.tasks.metrics import wilson_interval

    low, high = wilson_interval(4, 20)
    assert round(low, 3) == 0.081 and round(high, 3) == 0.416  # textbook Wilson 95% interval of 4/20
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[1] > 0.2  # zero successes in 10 does not mean a rate of zero
    assert wilson_interval(0, 0) == (0.0, 1.0)
