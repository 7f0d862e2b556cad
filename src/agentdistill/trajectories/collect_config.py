"""`CollectConfig`: every setting of teacher-trajectory collection; the CLI maps one-to-one onto it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from agentdistill.llm import parse_backend
from agentdistill.llm.precision import parse_dtype


@dataclass
class CollectConfig:
    """Settings of `collect` (see `agentdistill collect --help` for each)."""

    suite: str = "math"
    split: str = "train"
    n: int | None = 20
    teacher: str = "qwen2.5-coder-1.5b"
    out: str = "runs/teacher.jsonl"
    prefix: bool = False
    prefix_style: str = "substantive+code"
    samples: int = 1
    seed: int = 0
    temperature: float = 0.0
    top_p: float = 1.0
    max_steps: int = 5
    max_new_tokens: int = 320
    concurrency: int = 1
    resume: bool = True
    prompt_style: str = "full"
    sag: int = 1
    closed_book: bool = False  # no tools, one reply from memory: the baseline that tools are measured against
    dtype: str = "auto"  # precision of local models: auto, fp32, bf16, fp16 (resolved by llm.precision)
    backend: str = "auto"  # auto, engine or transformers (see llm.load_chat_model)

    def __post_init__(self) -> None:
        from agentdistill.agents.first_thought import PREFIX_STYLES

        if self.n is not None and self.n < 1:
            raise ValueError(f"-n must be at least 1 (or left out for every task), not {self.n}")
        if self.samples < 1 or self.concurrency < 1 or self.max_steps < 1:
            raise ValueError("samples, concurrency and max_steps must be at least 1")
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("several samples per task need --temperature > 0 (greedy repeats itself)")
        if self.prefix_style not in PREFIX_STYLES:
            raise ValueError(f"prefix_style must be one of {', '.join(PREFIX_STYLES)}")
        if self.prompt_style not in ("full", "short"):
            raise ValueError("prompt_style must be full or short")
        if self.sag < 1:
            raise ValueError("sag must be at least 1")
        if self.closed_book and (self.sag > 1 or self.prefix):
            raise ValueError("closed-book answers in one reply: it takes neither --sag nor --prefix")
        if self.split not in ("train", "test", "all"):
            raise ValueError("split must be train, test or all")
        self.dtype = parse_dtype(self.dtype)
        self.backend = parse_backend(self.backend)

    def to_dict(self) -> dict:
        return asdict(self)
