"""Self-consistent action generation (SAG): sample N actions, drop the broken ones, vote on what they do.

1. N candidates come from one batched model call (n=N).
2. Candidates without parseable code are dropped; the rest run, each in an isolated copy of the sandbox
   state (`BranchingSandbox`); candidates whose code raised are dropped unless all did.
3. Survivors are grouped by the value they produced: the `final_answer` value if they called it, else their
   printed output, normalised the same way, so `print(139.4)` and `final_answer(139.4)` back the same value.
   Candidates that printed nothing abstain. The largest group wins; ties go to the group holding the highest
   mean log-probability. Within the winning group a candidate that calls `final_answer` is preferred (the
   group agrees on the answer, so the episode can end), then the most probable one. If every survivor
   abstained, the most probable survivor is committed.
"""

from __future__ import annotations

from collections import defaultdict

from agentdistill.agents.memory import Candidate
from agentdistill.agents.parsing import ParsedStep
from agentdistill.llm import Completion
from agentdistill.tools.branching import Branch, BranchingSandbox

DEFAULT_SAG_TEMPERATURE = 0.7


def answer_key(value: object) -> str:
    """Equal answers get equal keys: 42, 42.0 and ' 42 ' all vote together; text compares case-insensitively."""
    text = str(value).strip()
    try:
        return f"answer:{float(text.replace(',', '')):.9g}"
    except ValueError:
        return f"answer:{text.lower()}"


def vote_key(branch: Branch) -> str | None:
    """The value a candidate stands for, or None if it printed nothing (it abstains)."""
    result = branch.result
    if result.is_final:
        return answer_key(result.final_answer)
    return answer_key(result.output) if result.output.strip() else None


def _logprob(completion: Completion) -> float:
    return completion.mean_logprob if completion.mean_logprob is not None else float("-inf")


def choose_action(
    texts: list[str], parsed: list[ParsedStep], completions: list[Completion], sandbox: BranchingSandbox
) -> tuple[int | None, Branch | None, list[Candidate]]:
    """(index of the winning candidate, its branch, every candidate as recorded); (None, None, ...) when no
    candidate had code to run."""
    candidates = [
        Candidate(text=t, code=p.code, mean_logprob=c.mean_logprob)
        for t, p, c in zip(texts, parsed, completions, strict=False)
    ]
    runnable = [i for i, p in enumerate(parsed) if p.code]
    codes = [code for i in runnable if (code := parsed[i].code)]
    if not runnable:
        return None, None, candidates
    branches = dict(zip(runnable, sandbox.try_each(codes), strict=False))
    for i, branch in branches.items():
        r = branch.result
        candidates[i] = candidates[i].model_copy(
            update={"output": r.output, "error": r.error, "is_final": r.is_final, "final_answer": r.final_answer}
        )
    clean = [i for i in runnable if branches[i].result.error is None] or runnable
    groups: dict[str, list[int]] = defaultdict(list)
    for i in clean:
        key = vote_key(branches[i])
        if key is not None:
            groups[key].append(i)
    best = max(groups.values(), key=lambda g: (len(g), max(_logprob(completions[i]) for i in g))) if groups else clean
    winner = max(best, key=lambda i: (branches[i].result.is_final, _logprob(completions[i])))
    for key, members in groups.items():
        for i in members:
            candidates[i] = candidates[i].model_copy(
                update={"vote_key": key, "votes": len(members), "chosen": i == winner}
            )
    return winner, branches[winner], candidates
