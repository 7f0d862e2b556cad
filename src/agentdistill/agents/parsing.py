"""Reading a model's step: a thought and one code block, tolerant of what small models actually write."""

from __future__ import annotations

import ast
import re

from pydantic import BaseModel

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)
_BARE_FINAL = re.compile(r"^[ \t]*final_answer\(.*\)[ \t]*$", re.M)
_THOUGHT_LABEL = re.compile(r"^\s*(?:\*\*)?thought:?(?:\*\*)?:?\s*", re.I)
_PROSE_ANSWER = re.compile(r"\b(?:final\s+)?answer\s*(?:is|:|=)\s*:?\s*(.+)", re.I)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


class ParsedStep(BaseModel):
    """What one model output amounts to; `kept_text` is the output cut after its first code block."""

    thought: str
    code: str | None
    kept_text: str


def parse_step(text: str) -> ParsedStep:
    """Split a model output into thought and code.

    Accepts an unclosed final fence (generation stopped at the limit or at a stop string), a bare
    `final_answer(...)` line without fences, and a whole output that is plain Python. Anything after the
    first code block (a hallucinated observation, a second step) is dropped.
    """
    match = _FENCE.search(text)
    if match:
        thought = _THOUGHT_LABEL.sub("", text[: match.start()]).strip()
        code = match.group(1).strip("\n")
        kept = text[: match.start()].rstrip() + f"\n```python\n{code}\n```"
        return ParsedStep(thought=thought, code=code or None, kept_text=kept.strip())
    bare = _BARE_FINAL.search(text)
    if bare:
        thought = _THOUGHT_LABEL.sub("", text[: bare.start()]).strip()
        code = bare.group(0).strip()
        return ParsedStep(thought=thought, code=code, kept_text=f"Thought: {thought}\n```python\n{code}\n```")
    if _is_plain_code(text):
        code = text.strip()
        return ParsedStep(thought="", code=code, kept_text=f"```python\n{code}\n```")
    return ParsedStep(thought=_THOUGHT_LABEL.sub("", text).strip(), code=None, kept_text=text.strip())


def _is_plain_code(text: str) -> bool:
    stripped = text.strip()
    if not stripped or _THOUGHT_LABEL.match(stripped):
        return False
    try:
        tree = ast.parse(stripped)
    except SyntaxError:
        return False
    return any(isinstance(node, (ast.Call, ast.Assign)) for node in ast.walk(tree))


def extract_prose_answer(text: str) -> str | None:
    """The answer in a prose reply such as 'The final answer is 42.' or '\\boxed{42}', else None."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].strip()
    match = _PROSE_ANSWER.search(text)
    if not match:
        return None
    answer = match.group(1).strip().splitlines()[0]
    answer = answer.strip().rstrip(".").strip("*`\"' ").rstrip(".")
    return answer or None
