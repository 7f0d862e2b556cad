"""Chat templates with `{% generation %}` markers, which assistant-only loss needs.

TRL ships training variants for the families it knows (Qwen, Llama, ...); for plain ChatML templates that
it lacks (SmolLM2) we supply our own. Either way the training template must render the same text as the
model's own template, or the student would be trained on a format it never sees at inference.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

from agentdistill.errors import ConfigError

_CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")


@lru_cache(maxsize=1)
def chatml_training_template() -> str:
    return files("agentdistill.distill").joinpath("chatml_training.jinja").read_text(encoding="utf-8")


def has_generation_markers(template: str | None) -> bool:
    return template is not None and "generation" in template and "endgeneration" in template


def training_template(tokenizer: Any) -> str:
    """The tokenizer's chat template with generation markers (its own if it already has them)."""
    own = tokenizer.chat_template
    if has_generation_markers(own):
        return own
    try:
        from trl.chat_template_utils import get_training_chat_template

        patched = get_training_chat_template(tokenizer)
    except (ValueError, ImportError):  # TRL raises ValueError for templates it has no training variant of
        patched = None
    if patched:
        return patched
    if own and all(marker in own for marker in _CHATML_MARKERS):
        return chatml_training_template()
    raise ConfigError(
        "no training chat template (with {% generation %} markers) is known for this tokenizer's "
        "template; pass one that marks the assistant's text with {% generation %}...{% endgeneration %}"
    )
