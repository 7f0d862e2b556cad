"""The transformers backend's JSON-schema logits processor (llguidance), on both precisions it meets: fp32
logits, and bf16 logits where the model runs in bf16 (masked on an fp32 copy, handed back in bf16)."""

from __future__ import annotations

import json

import pytest
import torch

SCHEMA = {
    "type": "object",
    "properties": {"colour": {"enum": ["red", "blue"]}, "count": {"type": "integer"}},
    "required": ["colour"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
def test_random_logits_under_the_schema_make_valid_json_then_only_an_end(smollm, dtype):
    """Whatever the model's scores, the masked argmax walks to a document valid under the schema, and once it
    is complete only an end token is left."""
    jsonschema = pytest.importorskip("jsonschema")
    vocab = int(smollm.model.config.get_text_config().vocab_size)
    ends = smollm.end_tokens()
    generator = torch.Generator().manual_seed(0)
    for row_seed in range(3):
        processor = smollm._schema_processor(SCHEMA, rows=1)
        ids = torch.zeros(1, 1, dtype=torch.long)
        tokens: list[int] = []
        for _ in range(40):
            scores = torch.randn(1, vocab, generator=generator).to(dtype) * (row_seed + 1)
            masked = processor(ids, scores)
            assert masked.dtype == dtype and masked.shape == scores.shape
            allowed = torch.isfinite(masked[0])
            assert allowed.any()
            token = int(torch.argmax(masked[0]))
            assert allowed[token] and masked[0, token] == scores[0, token]  # allowed scores are untouched
            if token in ends:
                break
            tokens.append(token)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
        else:
            pytest.fail("no end token within 40 steps")
        document = json.loads(smollm.tokenizer.decode(tokens))
        assert jsonschema.Draft202012Validator(SCHEMA).is_valid(document), document
        assert set(torch.nonzero(allowed).flatten().tolist()) <= ends  # complete: nothing but an end


def test_a_schema_the_library_cannot_compile_is_refused(smollm):
    from agentdistill.llm.base import UnsupportedRequest

    with pytest.raises(UnsupportedRequest, match="cannot be enforced"):
        smollm._schema_processor({"type": "object", "properties": {"x": {"$ref": "#/nowhere"}}}, rows=1)
