"""`quickstart`: the whole pipeline at a small scale, offline on CPU, resumable stage by stage.

teacher collects trajectories (train split) -> filter -> export -> distill the student (LoRA)
-> evaluate student prompted, distilled, distilled + SAG, and the teacher (test split) -> report.

Every stage writes into `out/`; rerunning skips what is already there (collection and evaluation resume
per task, a trained student is reused), so an interrupted quickstart continues where it stopped.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from agentdistill.distill.distill_config import STUDENT_MARKER, DistillConfig
from agentdistill.evaluation.eval_config import EvalConfig
from agentdistill.evaluation.evaluate import EvalSummary, evaluate
from agentdistill.evaluation.report import markdown_table, write_report
from agentdistill.llm import parse_backend
from agentdistill.llm.engine import is_built as engine_is_built
from agentdistill.llm.gguf_convert import to_gguf
from agentdistill.llm.precision import inference_precision, parse_dtype, training_precision
from agentdistill.trajectories.collect import Collector
from agentdistill.trajectories.collect_config import CollectConfig
from agentdistill.trajectories.filters import FilterConfig, filter_records
from agentdistill.trajectories.store import TrajectoryStore


@dataclass
class QuickstartConfig:
    """Settings of `quickstart`; `tiny()` is the few-minute smoke version that CI runs."""

    out: str = "runs/quickstart"
    teacher: str = "qwen2.5-coder-1.5b"
    student: str = "qwen2.5-coder-0.5b"
    suites: list[str] = field(default_factory=lambda: ["math", "facts"])
    train_tasks: int = 12
    test_tasks: int = 20  # per suite and row: with the engine, ~20 min on 2 cores in all
    max_steps: int = 4
    max_new_tokens: int = 256
    concurrency: int = 8
    prefix: bool = False
    epochs: float = 2.0
    sag: int = 4  # 0: no distilled + SAG run
    sag_temperature: float = 0.7
    train_on_incorrect: bool = False
    closed_book: bool = False  # also evaluate student and teacher answering from memory, without tools
    dtype: str = "auto"  # of every local model, for inference and training alike (resolved per purpose)
    backend: str = "auto"  # auto, engine or transformers (see llm.load_chat_model)

    def __post_init__(self) -> None:
        self.dtype = parse_dtype(self.dtype)
        self.backend = parse_backend(self.backend)

    @classmethod
    def tiny(cls, **overrides) -> "QuickstartConfig":
        """Minutes, not quality: a 0.5B teacher, the 135M student, two tasks; trains on every trajectory."""
        base = cls(out="runs/quickstart-tiny", teacher="qwen2.5-coder-0.5b", student="smollm2-135m", suites=["math"],
                   train_tasks=2, test_tasks=2, max_steps=2, max_new_tokens=96, concurrency=2, epochs=1.0, sag=2,
                   train_on_incorrect=True)
        return replace(base, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


Stage = Callable[[str], None]  # reports the name of the stage that starts


@dataclass
class QuickstartResult:
    summaries: list[EvalSummary]
    filter_stats: dict
    train_examples: int
    train_tokens_per_second: float | None
    train_precision: str | None  # how the student was trained (from its summary.json when it was reused)
    report_md: Path
    report_png: Path

    def table(self) -> str:
        return markdown_table(self.summaries)


def run_quickstart(config: QuickstartConfig, stage: Stage = lambda name: None, progress=None) -> QuickstartResult:
    """Run (or resume) the pipeline; `progress(record, summary)` is called after each episode."""
    from agentdistill.distill.trainer import distill
    from agentdistill.llm import is_server_spec, load_chat_model
    from agentdistill.trajectories.export import export_dataset

    # a precision this machine cannot run fails now, not after half an hour of collection
    inference_precision(config.dtype)
    training_precision(config.dtype, lora=True)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    teacher_store = out / "teacher.jsonl"
    models: dict = {}  # each model is loaded once, when first needed, however many stages use it

    def model(spec: str):
        if spec not in models:
            local = not is_server_spec(spec)
            models[spec] = load_chat_model(spec, dtype=config.dtype if local else "auto",
                                           backend=config.backend if local else "auto")
        return models[spec]

    for suite in config.suites:
        stage(f"teacher {config.teacher} collects {config.train_tasks} {suite} train tasks")
        Collector(CollectConfig(suite=suite, split="train", n=config.train_tasks, teacher=config.teacher,
                                out=str(teacher_store), prefix=config.prefix, max_steps=config.max_steps,
                                max_new_tokens=config.max_new_tokens, concurrency=config.concurrency,
                                dtype=config.dtype, backend=config.backend),
                  model=model(config.teacher)).run(on_record=progress)
    stage("filter and export")
    kept, stats = filter_records(TrajectoryStore(teacher_store), FilterConfig(
        correct_only=not config.train_on_incorrect, drop_max_steps=not config.train_on_incorrect,
        drop_parse_failures=not config.train_on_incorrect))
    if not kept:
        raise RuntimeError(f"the filter kept no trajectory ({dict(stats)}); nothing to distill")
    export_dataset(kept, out / "export")
    student_dir = out / "student"
    tokens_per_second = None
    if not (student_dir / "model" / STUDENT_MARKER).exists():
        for loaded in models.values():
            loaded.close()  # an engine server is stopped when its last user leaves
        models.clear()  # training needs the memory: a 1.5B teacher in fp32 holds ~6 GB (reloaded for its eval)
        gc.collect()
        stage(f"distill {len(kept)} trajectories into {config.student} (LoRA, {config.epochs:g} epochs)")
        result = distill(DistillConfig(data=str(out / "export"), student=config.student, out=str(student_dir),
                                       epochs=config.epochs, dtype=config.dtype))
        tokens_per_second, train_precision = result.tokens_per_second, str(result.precision)
    else:
        train_precision = _trained_precision(student_dir)
    if config.backend != "transformers" and config.dtype == "auto" and engine_is_built():
        to_gguf(student_dir / "model")  # a student trained by an older run gets its GGUF now (kept if there)
    distilled = f"hf:{student_dir / 'model'}"
    summaries = []
    runs = [("closed-book-student", "student closed-book", config.student, 1),
            ("closed-book-teacher", "teacher closed-book", config.teacher, 1)] if config.closed_book else []
    runs += [("prompted", "student prompted", config.student, 1), ("distilled", "student distilled", distilled, 1)]
    if config.sag > 1:
        runs.append(("distilled-sag", f"distilled + SAG x{config.sag}", distilled, config.sag))
    runs.append(("teacher", "teacher", config.teacher, 1))
    for slug, label, spec, sag in runs:
        for suite in config.suites:
            stage(f"evaluate {label} on {config.test_tasks} {suite} test tasks")
            folder = out / "eval" / f"{slug}-{suite}"
            summaries.append(evaluate(EvalConfig(
                suite=suite, split="test", n=config.test_tasks, model=spec, out=str(folder), label=label, sag=sag,
                temperature=config.sag_temperature if sag > 1 else 0.0, max_steps=config.max_steps,
                max_new_tokens=config.max_new_tokens, concurrency=config.concurrency,
                closed_book=slug.startswith("closed-book"), dtype=config.dtype, backend=config.backend),
                model=model(spec),
                on_record=progress))
    md, png = write_report(summaries, out / "report")
    return QuickstartResult(summaries=summaries, filter_stats=dict(stats), train_examples=len(kept),
                            train_tokens_per_second=tokens_per_second, train_precision=train_precision,
                            report_md=md, report_png=png)


def _trained_precision(student_dir: Path) -> str | None:
    """The training precision recorded by an earlier run's `distill` (None if there is none, or it predates it)."""
    from agentdistill.llm.precision import TrainingPrecision

    try:
        summary = json.loads((student_dir / "summary.json").read_text(encoding="utf-8"))
        return str(TrainingPrecision.model_validate(summary["precision"]))
    except (OSError, ValueError, KeyError):
        return None
