"""`EvalConfig`: every setting of `eval`; the CLI maps one-to-one onto it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from agentdistill.distill.distill_config import STUDENT_MARKER
from agentdistill.llm import parse_backend
from agentdistill.llm.precision import parse_dtype
from agentdistill.trajectories.collect_config import CollectConfig


@dataclass
class EvalConfig:
    """Settings of `eval` (see `agentdistill eval --help` for each)."""

    suite: str = "math"
    split: str = "test"
    n: int | None = None
    model: str = "qwen2.5-coder-0.5b"
    out: str = "runs/eval"
    label: str | None = None
    prompt_style: str = "auto"  # auto: short for students made by `distill` (trained on it), else full
    sag: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    max_steps: int = 5
    max_new_tokens: int = 320
    concurrency: int = 1
    resume: bool = True
    closed_book: bool = False  # the model answers from memory, no tools (the baseline for tool use)
    dtype: str = "auto"  # precision of local models: auto, fp32, bf16, fp16 (resolved by llm.precision)
    backend: str = "auto"  # auto, engine or transformers (see llm.load_chat_model)

    def __post_init__(self) -> None:
        if self.n is not None and self.n < 1:
            raise ValueError(f"-n must be at least 1 (or left out for every task), not {self.n}")
        if self.prompt_style not in ("auto", "full", "short"):
            raise ValueError("prompt_style must be auto, full or short")
        self.dtype = parse_dtype(self.dtype)
        self.backend = parse_backend(self.backend)

    @property
    def resolved_prompt_style(self) -> str:
        if self.prompt_style != "auto":
            return self.prompt_style
        path = Path(self.model[3:]).expanduser() if self.model.startswith("hf:") else None
        return "short" if path is not None and (path / STUDENT_MARKER).exists() else "full"

    def to_collect_config(self) -> CollectConfig:
        """Evaluation runs episodes exactly like collection does, on the chosen split, without a prefix."""
        return CollectConfig(
            suite=self.suite, split=self.split, n=self.n, teacher=self.model,
            out=str(Path(self.out) / "episodes.jsonl"), prefix=False, seed=self.seed,
            temperature=self.temperature, top_p=self.top_p, max_steps=self.max_steps,
            max_new_tokens=self.max_new_tokens, concurrency=self.concurrency, resume=self.resume,
            prompt_style=self.resolved_prompt_style, sag=self.sag, closed_book=self.closed_book, dtype=self.dtype,
            backend=self.backend)

    def to_dict(self) -> dict:
        return asdict(self)
