"""First-thought prefixes (Kang et al. 2025): the teacher's first chain-of-thought paragraph seeds the
agent's first step, which the model then continues.

Styles of cutting the prefix from the chain of thought:
- `paragraph`: the first paragraph as is (the reference implementation).
- `substantive`: the first paragraph that is not a mere lead-in ("To find X, we follow these steps:"),
  with LaTeX and markdown stripped so that the prefix reads as a plain thought.
- `substantive+code`: the same, then an opened ```python fence, so the continuation starts with code
  instead of more prose (a prose prefix kept small models reasoning in prose on math).
- `no-results+code`: the same, with the results the chain of thought worked out (`423906 + 143510 = 567416`)
  cut back to their expressions: the thought keeps the plan and leaves the arithmetic to code. With the results
  kept, the teacher typed them into its code as given (`result = 567416`) and inherited the chain of thought's
  arithmetic slips: on `chain_sum` that recipe solved fewer tasks than greedy without any prefix.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from agentdistill.agents.prompts import render
from agentdistill.llm import AgentChatModel, ChatMessage, SamplingParams

PrefixStyle = Literal["paragraph", "substantive", "substantive+code", "no-results+code"]
PREFIX_STYLES: tuple[str, ...] = get_args(PrefixStyle)
_LATEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$+|\\(?:text|mathrm|boxed)\{([^{}]*)\}|\\times|\\cdot|\\div")
_MARKDOWN = re.compile(r"\*\*|__|^#+\s*|^\s*[-*]\s+|^\s*\d+\.\s+", re.M)
_OPERATORS = {"\\times": " * ", "\\cdot": " * ", "\\div": " / "}
# `= 567416`, `= $1,234.50`, `= -3.5`: a result worked out in the chain of thought (not a comparison like `<=`)
_WORKED_RESULT = re.compile(r"(?<![<>!=])\s*=\s*-?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def cot_conversation(question: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": render("first_thought", "system")},
        {"role": "user", "content": render("first_thought", "user", question=question)},
    ]


def chains_of_thought(model: AgentChatModel, questions: list[str], max_new_tokens: int = 160) -> list[str]:
    """One greedy chain of thought per question, in one batched call. The prefix needs only the first
    paragraph or two, so generation is capped short."""
    params = SamplingParams(n=1, max_new_tokens=max_new_tokens, temperature=0.0)
    return [c[0].text for c in model.complete_batch([cot_conversation(q) for q in questions], params)]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def _clean(paragraph: str) -> str:
    text = _LATEX.sub(lambda m: m.group(1) or "", paragraph)
    text = _MARKDOWN.sub("", text)
    return " ".join(text.split())


def cut_prefix(chain_of_thought: str, style: PrefixStyle = "substantive+code") -> str | None:
    """The `Thought: ...` prefix cut from a chain of thought, or None if it has no usable paragraph."""
    paragraphs = _paragraphs(chain_of_thought)
    if not paragraphs:
        return None
    if style == "paragraph":
        return f"Thought: {paragraphs[0]}"
    chosen = next((p for p in paragraphs if not p.rstrip().endswith(":") and len(p.split()) >= 6), None)
    if chosen is None:
        return None
    if style == "no-results+code":
        # the expressions stay, so their operators must too (the older styles drop them, as measured)
        for latex, operator in _OPERATORS.items():
            chosen = chosen.replace(latex, operator)
        text = _WORKED_RESULT.sub("", _clean(chosen))
    else:
        text = _clean(chosen)
    thought = f"Thought: {text}"
    return thought if style == "substantive" else thought + "\n```python\n"
