"""Local transformers backend: batched generation of several prompts and several samples in one call."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import torch
import transformers
from pydantic import PrivateAttr

from agentdistill.errors import InputFileError, MissingFileError
from agentdistill.llm.base import (
    AgentChatModel,
    Capabilities,
    ChatMessage,
    Completion,
    ContextOverflow,
    SamplingParams,
    continues_assistant,
    raise_if_stopping,
    truncate_at_stop,
)
from agentdistill.llm.grammar import JsonSchemaProcessor, tokenizer_for
from agentdistill.llm.precision import inference_precision

_MIN_SHARED = 16  # shorter shared prefixes are not worth a cache copy
_CACHE_KWARG = "cache" if int(transformers.__version__.split(".")[0]) >= 5 else "past_key_values"


class _StopWithTheProcess(transformers.StoppingCriteria):
    """Raises `GenerationStopped` at the next token once the process stops generating (`stop_generation`)."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        raise_if_stopping()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


class _ChosenTokenLogprobs:
    """Logits processor that records the log-probability of each token the sampler picked.

    At step t it sees the scores for step t and the token picked at step t-1, so it keeps one step of
    log-probs (batch x vocab) instead of all of them (which would be gigabytes for long generations).
    """

    def __init__(self) -> None:
        self.previous: torch.Tensor | None = None
        self.picked: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self._gather(input_ids[:, -1])
        self.previous = torch.log_softmax(scores.float(), dim=-1)
        return scores

    def _gather(self, tokens: torch.Tensor) -> None:
        if self.previous is not None:
            self.picked.append(self.previous.gather(1, tokens[:, None].to(self.previous.device))[:, 0])

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        self._gather(last_tokens)
        return torch.stack(self.picked, dim=1) if self.picked else torch.zeros(len(last_tokens), 0)


class HFChatModel(AgentChatModel):
    """A transformers causal LM with a chat template, on CPU or GPU."""

    path: str
    device: str = "cpu"
    _model: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # KV cache of the last single-prompt call and the token ids it covers: agent prompts grow by appending,
    # and all of them share the system prompt, so the next call usually only has to prefill the new tail.
    _cache: Any = PrivateAttr(default=None)
    _cache_ids: list[int] = PrivateAttr(default_factory=list)
    _ll_tokenizer: Any = PrivateAttr(default=None)  # llguidance's tokenizer, built on the first JSON schema

    @property
    def capabilities(self) -> Capabilities:
        # prefix caching only within one prompt's successive calls, not across callers: not declared
        return Capabilities(batched_generate=True, logprobs=True, json_schema=True)

    @classmethod
    def from_pretrained(cls, path: str | Path, dtype: str = "auto", **fields: Any) -> HFChatModel:
        """Load a model folder (or a single .gguf file, dequantised) with its tokenizer and chat template.

        `dtype` is auto, fp32, bf16 or fp16 (`precision.inference_precision` resolves auto for this machine)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path).expanduser()
        if not path.exists():
            raise MissingFileError(f"no model at {path}")
        gguf = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
        folder = path.parent if gguf else path
        precision = inference_precision(dtype)  # before loading: a choice that cannot run fails at once
        device = precision.device
        tokenizer = AutoTokenizer.from_pretrained(folder, **gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=precision.torch_dtype(), **gguf)
        model.to(device)  # type: ignore[arg-type]  # transformers types .to's device as a model
        model.eval()
        if tokenizer.chat_template is None:
            raise InputFileError(f"{path} has no chat template; agentdistill needs an instruct/chat model")
        tokenizer.padding_side = "left"  # decoder-only batching pads on the left
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        fields.setdefault("model_id", f"hf:{path}")
        chat = cls(path=str(path), device=device, precision=precision, **fields)
        chat._model, chat._tokenizer = model, tokenizer
        return chat

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        return self._model

    def render(self, conversation: list[ChatMessage]) -> str:
        """The exact prompt text the model sees; a trailing assistant message is continued, not closed."""
        cont = continues_assistant(conversation)
        return self._tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=not cont, continue_final_message=cont
        )

    def _check_context(self, prompt_tokens: int) -> None:
        """Refuse a prompt longer than the model's positions, as a server refuses one longer than its context
        (past them a model does not fail: it writes nonsense)."""
        limit = getattr(self._model.config, "max_position_embeddings", None)
        if limit and prompt_tokens > limit:
            raise ContextOverflow(f"{self.model_id}: the prompt ({prompt_tokens} tokens) exceeds its context ({limit})")

    def complete_batch(
        self, conversations: list[list[ChatMessage]], params: SamplingParams | None = None
    ) -> list[list[Completion]]:
        raise_if_stopping()
        p = self.resolve(params)
        n = p.n or 1
        rows = [
            self._tokenizer(self.render(c), add_special_tokens=False)["input_ids"]
            for c in conversations
            for _ in range(n)
        ]  # n samples = n copies of the prompt
        self._check_context(max(map(len, rows), default=0))
        recorder = _ChosenTokenLogprobs()
        processors: list[Any] = [self._schema_processor(p.json_schema, len(rows))] if p.json_schema else []
        sampling = (
            {"do_sample": True, "temperature": p.temperature, "top_p": p.top_p}
            if p.temperature
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        stop = {"stop_strings": p.stop, "tokenizer": self._tokenizer} if p.stop else {}
        with self._lock, torch.inference_mode():
            cache, shared = self._prefix_cache(rows)
            input_ids, attention_mask = self._pad_after_prefix(rows, shared)
            if p.seed is not None:
                torch.manual_seed(p.seed)
            out = self._model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=p.max_new_tokens,
                logits_processor=[*processors, recorder],  # the recorder sees the masked scores
                pad_token_id=self._tokenizer.pad_token_id,
                return_dict_in_generate=True,
                stopping_criteria=transformers.StoppingCriteriaList([_StopWithTheProcess()]),
                **({_CACHE_KWARG: cache} if cache is not None else {}),
                **sampling,
                **stop,
            )
            if len(rows) == 1:
                self._keep_cache(out)
            out = out.sequences
        generated = out[:, input_ids.shape[1] :]
        logprobs = recorder.finish(generated[:, -1]) if generated.shape[1] else None
        results: list[list[Completion]] = [[] for _ in conversations]
        for row in range(generated.shape[0]):
            results[row // n].append(
                self._decode(generated[row], None if logprobs is None else logprobs[row], p, len(rows[row]))
            )
        return results

    def _schema_processor(self, schema: dict[str, Any], rows: int) -> JsonSchemaProcessor:
        vocab = int(self._model.config.get_text_config().vocab_size)
        if self._ll_tokenizer is None:
            self._ll_tokenizer = tokenizer_for(self._tokenizer, sorted(self.end_tokens()), vocab)
        return JsonSchemaProcessor(self._ll_tokenizer, schema, rows, vocab)

    def _pad_after_prefix(self, rows: list[list[int]], shared: int) -> tuple[torch.Tensor, torch.Tensor]:
        """[shared prefix | padding | tail] per row: the prefix stays aligned with its cached keys/values.

        Padding in the middle is masked out, and transformers derives position ids from the mask, so each
        row sees exactly the positions it would see alone.
        """
        width = max(len(r) for r in rows) - shared
        pad = self._tokenizer.pad_token_id
        ids = [r[:shared] + [pad] * (width - len(r) + shared) + r[shared:] for r in rows]
        mask = [[1] * shared + [0] * (width - len(r) + shared) + [1] * (len(r) - shared) for r in rows]
        return torch.tensor(ids, device=self.device), torch.tensor(mask, device=self.device)

    def _prefix_cache(self, rows: list[list[int]]) -> tuple[Any, int]:
        """A KV cache for the prefix all `rows` share, expanded to the batch, and that prefix's length.

        One batch-1 cache is kept between calls. Agent prompts grow by appending and every episode starts
        with the same system prompt, so a single call usually only prefills its new tail, and a batch of
        episodes in lockstep prefills the system prompt once instead of once per row and per step.

        Only in fp32: in bf16/fp16 a prefill that continues a cache rounds differently from one over the whole
        prompt, enough to flip greedy near-ties, so the same call twice could answer differently (seen with
        SmolLM2 on an AVX512-BF16 CPU). Reduced precision prefills every prompt whole, and stays deterministic.
        """
        if self.precision is not None and self.precision.dtype != "fp32":
            return None, 0
        common = min(len(r) for r in rows) - 1  # generate needs at least one new token per row
        for a in rows[1:]:
            common = next((i for i, (x, y) in enumerate(zip(rows[0][:common], a, strict=False)) if x != y), common)
        cached = (
            next(
                (i for i, (x, y) in enumerate(zip(self._cache_ids, rows[0][:common], strict=False)) if x != y),
                min(len(self._cache_ids), common),
            )
            if self._cache is not None
            else 0
        )
        if cached >= _MIN_SHARED:
            self._crop_kept(cached)
        else:
            self._cache, self._cache_ids = None, []
        if len(rows) > 1 and common - len(self._cache_ids) >= _MIN_SHARED:
            self._extend_kept(rows[0][:common])
        if self._cache is None:
            return None, 0
        if len(rows) == 1:  # the kept cache itself is extended by this call and kept again by `_keep_cache`
            cache, self._cache, self._cache_ids = self._cache, None, []
            return cache, cache.get_seq_length()
        cache = copy.deepcopy(self._cache)
        cache.batch_repeat_interleave(len(rows))
        return cache, cache.get_seq_length()

    def _crop_kept(self, length: int) -> None:
        extra = self._cache.get_seq_length() - length
        if extra > 0:
            self._cache.crop(-extra)  # negative = drop that many tokens; the meaning of positive values changed in v5
        self._cache_ids = self._cache_ids[:length]

    def _extend_kept(self, ids: list[int]) -> None:
        """Prefill `ids` (which start with the kept ids) into the kept cache."""
        from transformers import DynamicCache

        if self._cache is None:
            self._cache, self._cache_ids = DynamicCache(config=self._model.config), []
        tail = ids[len(self._cache_ids) :]
        self._model(input_ids=torch.tensor([tail], device=self.device), use_cache=True, **{_CACHE_KWARG: self._cache})
        self._cache_ids = list(ids)

    def _keep_cache(self, out: Any) -> None:
        if self.precision is not None and self.precision.dtype != "fp32":
            return  # see _prefix_cache
        cache = getattr(out, "past_key_values", None)
        if cache is not None and hasattr(cache, "crop"):
            self._cache = cache
            self._cache_ids = out.sequences[0, : cache.get_seq_length()].tolist()

    def end_tokens(self) -> set[int]:
        """The token ids that end a reply (the generation config's and the tokenizer's end and padding tokens)."""
        eos = self._model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        return ids | {self._tokenizer.eos_token_id, self._tokenizer.pad_token_id} - {None}

    def _decode(
        self, tokens: torch.Tensor, logprobs: torch.Tensor | None, p: SamplingParams, prompt_len: int
    ) -> Completion:
        ends = self.end_tokens()
        token_list = tokens.tolist()
        length = next((i + 1 for i, t in enumerate(token_list) if t in ends), len(token_list))
        hit_end = length < len(token_list) or (token_list and token_list[-1] in ends)
        text = self._tokenizer.decode(token_list[:length], skip_special_tokens=True)
        text, stopped = truncate_at_stop(text, p.stop or [])
        mean_lp = float(logprobs[:length].mean()) if logprobs is not None and length else None
        finish = "stop" if (hit_end or stopped) else "length"
        return Completion(
            text=text,
            finish_reason=finish,
            prompt_tokens=int(prompt_len),
            completion_tokens=length,
            mean_logprob=mean_lp,
        )
