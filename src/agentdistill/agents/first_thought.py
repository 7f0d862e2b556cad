"""First-thought prefixes (Kang et al. 2025): the teacher's first chain-of-thought paragraph seeds the
agent's first step, which the model then continues.

Styles of cutting the prefix from the chain of thought:
- `paragraph`: the first paragraph as is (the reference implementation).
- `substantive`: the first paragraph that is not a mere lead-in ("To find X, we follow these steps:"),
  with LaTeX and markdown stripped so that the prefix reads as a plain thought.
- `substantive+code`: the same, then an opened ```python fence, so the continuation starts with code
  instead of more prose (a prose prefix kept small models reasoning in prose on math).
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from agentdistill.agents.prompts import render
from agentdistill.llm import AgentChatModel, ChatMessage, SamplingParams

PrefixStyle = Literal["paragraph", "substantive", "substantive+code"]
PREFIX_STYLES: tuple[str, ...] = get_args(PrefixStyle)
_LATEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$+|\\(?:text|mathrm|boxed)\{([^{}]*)\}|\\times|\\cdot|\\div")
_MARKDOWN = re.compile(r"\*\*|__|^#+\s*|^\s*[-*]\s+|^\s*\d+\.\s+", re.M)


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
    thought = f"Thought: {_clean(chosen)}"
    return thought + "\n```python\n" if style == "substantive+code" else thought
