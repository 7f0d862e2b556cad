"""Deterministic, local answer metrics (no paid judge): exact match, token F1, numeric, aliases."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Any

from agentdistill.tasks.schema import MetricName, Task

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
NUMBER_PATTERN = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|-?\.\d+")


def normalize(text: Any) -> str:
    """Lower-case, drop punctuation, articles and extra spaces (the SQuAD normalisation)."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: Any, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def token_f1(prediction: Any, gold: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def extract_number(prediction: Any) -> float | None:
    """The number an answer states: a number as is, else the last `\\boxed{}`, else the last number in the text."""
    if isinstance(prediction, bool):
        return None
    if isinstance(prediction, (int, float)):
        return float(prediction)
    text = str(prediction)
    boxed = _BOXED.findall(text)
    if boxed:
        text = boxed[-1]
    numbers = NUMBER_PATTERN.findall(text.replace("\\,", "").replace("{,}", ""))
    if not numbers:
        return None
    try:
        return float(numbers[-1].replace(",", ""))
    except ValueError:
        return None


def is_plain_number(text: Any) -> bool:
    """True for '42', '-3.5', '1,000', '$12': answers that numeric comparison suits."""
    return bool(NUMBER_PATTERN.fullmatch(str(text).strip().lstrip("$").rstrip("%").strip()))


def numeric_match(prediction: Any, gold: str, rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> float:
    value, target = extract_number(prediction), extract_number(gold)
    if value is None or target is None:
        return 0.0
    return float(abs(value - target) <= max(abs_tol, rel_tol * abs(target)))


def alias_match(prediction: Any, gold: str) -> float:
    """Exact match, or the gold alias appearing as whole words inside a short answer."""
    pred, ref = normalize(prediction), normalize(gold)
    if pred == ref:
        return 1.0
    return float(bool(ref) and len(pred.split()) <= 3 * max(1, len(ref.split())) and f" {ref} " in f" {pred} ")


_METRICS = {"exact_match": exact_match, "f1": token_f1, "numeric": numeric_match, "alias": alias_match}


def score(
    metric: MetricName, prediction: Any, answers: list[str], rel_tol: float = 1e-4, abs_tol: float = 1e-6
) -> float:
    """Best score of `prediction` against any gold answer; None predictions score 0."""
    if prediction is None:
        return 0.0
    prediction = _as_yes_no(prediction, answers)
    if metric == "numeric":
        return max(numeric_match(prediction, gold, rel_tol=rel_tol, abs_tol=abs_tol) for gold in answers)
    return max(_METRICS[metric](prediction, gold) for gold in answers)


def _as_yes_no(prediction: Any, answers: list[str]) -> Any:
    """A truth value as the yes or no a yes/no question's gold states: the 1.5B teacher answered "Is Tm5Si3C a
    metal ...? Answer yes or no." with final_answer(True), unambiguous and right, which alias matching scored 0."""
    truth = {"true": "yes", "false": "no"}.get(normalize(prediction))
    if truth is None or not answers or any(normalize(gold) not in ("yes", "no") for gold in answers):
        return prediction
    return truth


def score_task(task: Task, prediction: Any) -> tuple[float, bool]:
    """(score, correct): F1 counts as correct from 0.5 up, the other metrics at 1."""
    value = score(task.metric, prediction, task.answers, task.rel_tol, task.abs_tol)
    return value, value >= (0.5 if task.metric == "f1" else 1.0)


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% for z=1.96): sound at small n and at 0 or n successes,
    where the normal approximation collapses to a point."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
