"""Why a trajectory got its task wrong, by kind, read off the record (no judge model).

Kinds, checked in this order:
- `parse error`: no step had code that parsed, or the agent never produced an answer;
- `shadowed a tool`: code assigned a value to a name (`final_answer = a + b`) and a later call of that name
  failed (before the sandbox rebound its tools at each step, the call failed even one step later);
- `max steps`: it ran out of steps (the answer came from the fallback question);
- `copied an example`: the answer is a distinctive number of the system prompt's solved examples that the task
  does not hold (small models copy few-shot examples verbatim, or rerun an example's code after an error, which
  prints the example's number again);
- `arithmetic in the head`: it answered a number that no code printed or returned, i.e. computed it itself;
- `dropped quantity`: the answer is the gold one with one number of the question left out (one factor too
  few or too many, one term missing), the typical slip on multi-factor word problems;
- `wrong plan`: code computed the answer, and it is wrong in another way.

A closed-book episode (no tools, no code: the CoT-distilled row, the closed-book rows) is read on its text: a
`parse error` is a reply with no answer; `arithmetic in the head` is a reasoning that writes a false equation
(`86 \\times 13 = 1138`); `copied an example`, `dropped quantity` and `wrong plan` are as above.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal, get_args

from agentdistill.agents.closed_book import CLOSED_BOOK_AGENTS
from agentdistill.tasks.metrics import NUMBER_PATTERN, extract_number
from agentdistill.trajectories.record import TrajectoryRecord

FailureKind = Literal[
    "context overflow",
    "parse error",
    "shadowed a tool",
    "max steps",
    "copied an example",
    "arithmetic in the head",
    "dropped quantity",
    "wrong plan",
]
FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)  # in the order they are checked


def _numbers(text: str) -> list[float]:
    values = []
    for token in NUMBER_PATTERN.findall(text.replace(",", "")):
        try:
            values.append(float(token))
        except ValueError:
            continue
    return values


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(1e-6, 1e-4 * abs(b))


def _names(code: str | None) -> tuple[set[str], set[str]]:
    """The names `code` assigns and the names it calls (none when it does not parse)."""
    try:
        tree = ast.parse(code or "")
    except SyntaxError:
        return set(), set()
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return assigned, called


def _shadowed_tool(record: TrajectoryRecord) -> bool:
    """A step failed with "... is not callable" calling a name that the episode's code had assigned a value."""
    assigned: set[str] = set()
    for step in record.trajectory.steps:
        step_assigned, called = _names(step.code)
        assigned |= step_assigned
        if "is not callable" in (step.error or "") and called & assigned:
            return True
    return False


def _literal_answer(code: str | None) -> bool:
    """True when the code hands final_answer a number written out, not a computed value."""
    if not code:
        return False
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "final_answer" and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.UnaryOp):
                argument = argument.operand
            return isinstance(argument, ast.Constant) and isinstance(argument.value, (int, float, str))
    return False


def _printed(record: TrajectoryRecord) -> list[float]:
    """Numbers the code printed. The final step's observation echoes the answer ("Final answer: 42"): that line
    is not a computation."""
    lines = (line for s in record.trajectory.steps for line in s.observation.splitlines())
    return [value for line in lines if not line.startswith("Final answer:") for value in _numbers(line)]


def _computed_in_head(record: TrajectoryRecord, answer: float) -> bool:
    steps = record.trajectory.steps
    final = next((s for s in reversed(steps) if s.is_final), None)
    if final is None or not _literal_answer(final.code):
        return False
    return not any(_close(value, answer) for value in _printed(record))


def _copied_example(record: TrajectoryRecord, answer: float) -> bool:
    system = next((m["content"] for m in record.messages if m["role"] == "system"), "")
    # small integers (step counts, k=1) are everywhere; only distinctive example numbers count. A wrong answer
    # that is one of them was copied even when the episode's code printed it: that code is the example's.
    distinctive = [v for v in _numbers(system) if v != int(v) or abs(v) >= 100]
    if not any(_close(value, answer) for value in distinctive):
        return False
    return not any(_close(value, answer) for value in _numbers(record.question))


def _dropped_quantity(question: str, answer: float, gold: float) -> bool:
    for q in {abs(v) for v in _numbers(question)} - {0.0, 1.0}:
        if any(_close(candidate, gold) for candidate in (answer * q, answer / q, answer + q, answer - q)):
            return True
    return False


_OPERAND = r"(\d[\d,]*(?:\.\d+)?)"
_OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "−": operator.sub,
    "*": operator.mul,
    "×": operator.mul,
    "\\times": operator.mul,
    "\\cdot": operator.mul,
    "/": operator.truediv,
    "÷": operator.truediv,
}
_OPERATOR = "|".join(re.escape(op) for op in _OPERATORS)
# `a op b = c` with nothing operator-like around it: in `2 + 3 + 4 = 9` the last `3 + 4 = 9` is not an equation
_EQUATION = re.compile(rf"(?<![\d.,]){_OPERAND}\s*({_OPERATOR})\s*{_OPERAND}\s*=\s*{_OPERAND}(?!\s*[\d+\-−*×/÷^])")
_CHAINED = (*"+-−*×/÷^{", "\\times", "\\cdot")


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def false_equations(text: str) -> list[str]:
    """The binary equations `a op b = c` of a reasoning text whose result is wrong beyond its written rounding."""
    wrong = []
    for match in _EQUATION.finditer(text):
        if text[: match.start()].rstrip().endswith(_CHAINED):
            continue
        left, operator_, right, result = match.groups()
        a, b, c = _value(left), _value(right), _value(result)
        apply = _OPERATORS[operator_]
        if apply is operator.truediv and b == 0:
            continue
        exact = apply(a, b)
        decimals = len(result.split(".")[1]) if "." in result else 0
        if abs(exact - c) > 0.5 * 10**-decimals + 1e-9:
            wrong.append(match.group(0).strip())
    return wrong


def _closed_book_failure(record: TrajectoryRecord) -> FailureKind:
    trajectory = record.trajectory
    final = trajectory.final_answer
    answer, gold = extract_number(final or ""), extract_number(record.gold[0])
    if final is None or (answer is None and gold is not None):
        return "parse error"  # no answer at all, or none a numeric task can read
    if answer is None or gold is None:
        return "wrong plan"
    if _copied_example(record, answer):
        return "copied an example"
    if false_equations(" ".join(step.model_output for step in trajectory.steps)):
        return "arithmetic in the head"
    if _dropped_quantity(record.question, answer, gold):
        return "dropped quantity"
    return "wrong plan"


def failure_kind(record: TrajectoryRecord) -> FailureKind | None:
    """The kind of failure of `record`, None when it is correct."""
    if record.correct:
        return None
    trajectory = record.trajectory
    if trajectory.metadata.get("agent") in CLOSED_BOOK_AGENTS:
        return _closed_book_failure(record)
    if trajectory.termination == "context_overflow":
        return "context overflow"
    ran = [s for s in trajectory.steps if s.code and not (s.error or "").startswith("SyntaxError")]
    if trajectory.final_answer is None or not ran:
        return "parse error"
    if _shadowed_tool(record):
        return "shadowed a tool"
    if trajectory.termination == "max_steps":
        return "max steps"
    answer, gold = extract_number(trajectory.final_answer), extract_number(record.gold[0])
    if answer is None or gold is None:
        return "wrong plan"
    if _copied_example(record, answer):
        return "copied an example"
    if _computed_in_head(record, answer):
        return "arithmetic in the head"
    if _dropped_quantity(record.question, answer, gold):
        return "dropped quantity"
    return "wrong plan"


def answers_from_prompt(record: TrajectoryRecord) -> bool:
    """A wrong answer that is a distinctive number of the system prompt (an example's result, a tool's sample
    entry) the task does not hold, whatever its kind: an episode that copied and then ran out of steps counts too,
    which `copied an example` (checked after `max steps`) misses."""
    final = record.trajectory.final_answer
    answer = extract_number(final) if final is not None else None
    return not record.correct and answer is not None and _copied_example(record, answer)


def used_a_tool(record: TrajectoryRecord) -> bool | None:
    """Whether the episode's code called one of the tools it was given (an answer recalled from memory did not);
    None for an episode given no tools."""
    if not (tools := set(record.trajectory.metadata.get("tools") or [])):
        return None
    return any(_names(step.code)[1] & tools for step in record.trajectory.steps)


def hit_a_tool_error(record: TrajectoryRecord) -> bool:
    """A wrong episode in which a tool call failed (bad arguments, an unknown name), whatever its kind."""
    return not record.correct and any("ToolError" in (step.error or "") for step in record.trajectory.steps)


def failure_counts(records: Iterable[TrajectoryRecord]) -> Counter[str]:
    """How many of `records` failed, by kind (correct ones are not counted)."""
    return Counter(kind for record in records if (kind := failure_kind(record)) is not None)
