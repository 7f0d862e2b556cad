"""JSON-schema constrained decoding for the in-process transformers backend, through llguidance.

The engine constrains output on its side (`response_format` with a `json_schema`); transformers has no such
switch, so `JsonSchemaProcessor` is a logits processor that asks llguidance, at every step and for every row of
the batch, which tokens keep the output a prefix of some JSON document valid under the schema, and sets every
other token's logit to -inf. The token masks are llguidance's; this module only feeds it the sampled tokens and
applies its bitmask.

Why llguidance (bench/grammar_masks.py measures both on the parser's schema): it installs as one 8 MB wheel with
no dependencies, where xgrammar pulls triton (1 GB) into a CPU-only environment; and its masks are computed
lazily per step in tens of microseconds, so there is no per-schema compilation to cache, which matters because
the parser's schema changes with the catalogue.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import torch

from agentdistill.llm.base import UnsupportedRequest

# compact JSON with json.dumps' separators: the form the training data is written in (agents/structured.py), and
# no free whitespace, which a small model can spend its whole token budget on
_LAYOUT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """llguidance's grammar for `schema`, in the compact layout; the schema's property order is kept (the
    grammar writes properties in that order, and the training data has them so)."""
    return _grammar(json.dumps(schema))


@functools.lru_cache(maxsize=8)
def _grammar(schema_json: str) -> str:
    import llguidance

    return llguidance.LLMatcher.grammar_from_json_schema(schema_json, defaults=_LAYOUT)  # type: ignore[arg-type]


def tokenizer_for(hf_tokenizer: Any, end_tokens: list[int], vocab_size: int) -> Any:
    """llguidance's view of a fast Hugging Face tokenizer (about a second to build: keep it)."""
    import llguidance.hf

    return llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=vocab_size, eos_token=end_tokens)


class JsonSchemaProcessor:
    """A `transformers` logits processor: each row may only continue into JSON valid under `schema`, and ends
    when the document is complete."""

    def __init__(self, ll_tokenizer: Any, schema: dict[str, Any], rows: int, vocab_size: int) -> None:
        import llguidance

        grammar = json_schema_grammar(schema)
        self.matchers = [llguidance.LLMatcher(ll_tokenizer, grammar) for _ in range(rows)]
        if self.matchers and self.matchers[0].is_error():
            raise UnsupportedRequest(f"the JSON schema cannot be enforced: {self.matchers[0].get_error()}")
        self.bitmask = np.full((rows, (vocab_size + 31) // 32), -1, dtype=np.int32)
        self._started = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import llguidance.numpy as llnp

        if self._started:  # the last column is the token sampled at the previous step
            for matcher, token in zip(self.matchers, input_ids[:, -1].tolist(), strict=True):
                if not matcher.is_stopped() and not matcher.is_error():
                    matcher.consume_token(token)
        self._started = True
        # a stopped matcher (the document is complete) allows only an end token: keep masking it, or the model
        # writes on after the closing brace; a failed one is left alone (its error is reported, not hidden)
        live = [row for row, m in enumerate(self.matchers) if not m.is_error()]
        if not live:
            return scores
        for row in live:
            llnp.fill_next_token_bitmask(self.matchers[row], self.bitmask, row)
        full = scores.float()  # the model's own tensor in fp32, a copy in bf16
        rows = full[live].numpy()  # indexing copies: mask the copy, then write it back
        llnp.apply_token_bitmask_inplace(rows, self.bitmask[live])
        full[live] = torch.from_numpy(rows)
        return full.to(scores.dtype)
