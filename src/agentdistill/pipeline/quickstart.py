"""`quickstart`: the whole pipeline at a small scale, offline on CPU, resumable stage by stage.

teacher collects trajectories (train split) -> filter -> export -> distill the student (LoRA)
-> evaluate student prompted, distilled, distilled + SAG, and the teacher (test split) -> report.

Every stage writes into `out/`; rerunning skips what is already there (collection and evaluation resume
per task, a trained student is reused), so an interrupted quickstart continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from agentdistill.config import (
    DEFAULT_STUDENT,
    DEFAULT_TEACHER,
    CommandConfig,
    ModelSettings,
    ModelSpec,
    cli,
    split_commas,
)
from agentdistill.distill.distill_config import STUDENT_MARKER, DistillConfig
from agentdistill.errors import AgentDistillError
from agentdistill.llm.engine import is_built as engine_is_built
from agentdistill.llm.gguf_convert import to_gguf
from agentdistill.llm.precision import (
    inference_precision,
    training_precision,
)
from agentdistill.llm.registry import SMALLEST_CHAT_MODEL
from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.pipeline.evaluate import EvalSummary, evaluate
from agentdistill.pipeline.models import ModelCache
from agentdistill.pipeline.report import markdown_table, write_report
from agentdistill.trajectories.filters import FilterConfig, filter_records
from agentdistill.trajectories.store import TrajectoryStore

# `--tiny`: minutes, not quality: a 0.5B teacher, the 135M student, two tasks; trains on every trajectory.
TINY = {
    "out": "runs/quickstart-tiny",
    "teacher": DEFAULT_STUDENT,
    "student": SMALLEST_CHAT_MODEL,
    "suites": ["math"],
    "train_tasks": 2,
    "test_tasks": 2,
    "max_steps": 2,
    "max_new_tokens": 96,
    "concurrency": 2,
    "epochs": 1.0,
    "sag": 2,
    "train_on_incorrect": True,
}


class QuickstartConfig(ModelSettings, CommandConfig):
    """Settings of `quickstart`; `tiny: true` starts from the few-minute smoke version that CI runs (`TINY`)."""

    tiny: bool = Field(
        False,
        description="A few-minute smoke run (0.5B teacher, 135M student, 2 tasks); options "
        "given with it override its settings.",
    )
    out: str = Field(
        "runs/quickstart",
        description="Output folder (default runs/quickstart-tiny with --tiny).",
        json_schema_extra=cli("-o"),
    )
    teacher: ModelSpec = Field(DEFAULT_TEACHER, description="Teacher model.")
    student: ModelSpec = Field(DEFAULT_STUDENT, description="Student model (smollm2-135m is fast).")
    suites: list[str] = Field(
        ["math", "facts"], description="Suites (repeat the option or separate by commas), e.g. materials."
    )
    train_tasks: int = Field(12, ge=1, description="Train tasks per suite for the teacher.")
    test_tasks: int = Field(20, ge=1, description="Held-out test tasks per suite and row.")
    max_steps: int = Field(4, ge=1, description="Think-act-observe steps per episode.")
    max_new_tokens: int = Field(256, ge=16, description="Tokens per model call.")
    concurrency: int = Field(8, ge=1, description="Episodes stepped together.")
    prefix: bool = Field(False, description="First-thought prefixes for the teacher.")
    epochs: float = Field(2.0, gt=0.0, description="Distillation epochs.")
    sag: int = Field(4, ge=0, description="Candidates per step for the +SAG run (0: no SAG run).")
    sag_temperature: float = Field(0.7, gt=0.0, description="Sampling temperature of the +SAG run.")
    train_on_incorrect: bool = Field(False, description="Train on every trajectory, not only the correct ones.")
    closed_book: bool = Field(
        False, description="Also evaluate student and teacher answering from memory, without tools."
    )

    @field_validator("suites", mode="before")
    @classmethod
    def _suite_list(cls, value: Any) -> Any:
        return split_commas(value)

    @model_validator(mode="before")
    @classmethod
    def _tiny_preset(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("tiny"):
            return {**TINY, **values}
        return values

    def episode_settings(self) -> dict[str, Any]:
        """What every collection and evaluation of the run shares."""
        return self.model_dump(include={"max_steps", "max_new_tokens", "concurrency", "dtype", "backend"})


Stage = Callable[[str], None]  # reports the name of the stage that starts


@dataclass
class QuickstartResult:
    summaries: list[EvalSummary]
    filter_stats: dict
    train_examples: int
    train_tokens_per_second: float | None
    train_precision: str | None  # how the student was trained (from its summary.json when it was reused)
    report_md: Path
    report_png: Path | None

    def table(self) -> str:
        return markdown_table(self.summaries)


def run_quickstart(config: QuickstartConfig, stage: Stage = lambda name: None, progress=None) -> QuickstartResult:
    """Run (or resume) the pipeline; `progress(record, summary)` is called after each episode."""
    # a precision this machine cannot run fails now, not after half an hour of collection
    inference_precision(config.dtype)
    training_precision(config.dtype, lora=True)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    models = ModelCache(config.dtype, config.backend)
    try:
        _collect_teacher(config, models, out, stage, progress)
        kept, stats = _filter_and_export(config, out)
        distilled, tokens_per_second, train_precision = _distill_student(config, models, out, len(kept), stage)
        summaries = _evaluate_rows(config, models, out, distilled, stage, progress)
    finally:
        models.close()
    md, png = write_report(summaries, out / "report")
    return QuickstartResult(
        summaries=summaries,
        filter_stats=dict(stats),
        train_examples=len(kept),
        train_tokens_per_second=tokens_per_second,
        train_precision=train_precision,
        report_md=md,
        report_png=png,
    )


def _collect_teacher(config: QuickstartConfig, models: ModelCache, out: Path, stage: Stage, progress) -> None:
    for suite in config.suites:
        stage(f"teacher {config.teacher} collects {config.train_tasks} {suite} train tasks")
        collect_config = CollectConfig.build(
            suite=suite,
            split="train",
            n=config.train_tasks,
            teacher=config.teacher,
            out=str(out / "teacher.jsonl"),
            prefix=config.prefix,
            temperature=0.0,  # greedy, one trajectory per task: the quickstart is the small, fast pipeline
            samples=1,
            stop_after_correct=None,
            greedy_first=False,
            **config.episode_settings(),
        )
        with Collector(collect_config, model=models(config.teacher)) as collector:
            collector.run(on_record=progress)


def _filter_and_export(config: QuickstartConfig, out: Path) -> tuple[list, dict]:
    from agentdistill.trajectories.export import export_dataset

    lenient = config.train_on_incorrect
    kept, stats = filter_records(
        TrajectoryStore(out / "teacher.jsonl"),
        FilterConfig(correct_only=not lenient, drop_max_steps=not lenient, drop_parse_failures=not lenient),
    )
    if not kept:
        raise AgentDistillError(f"the filter kept no trajectory ({dict(stats)}); nothing to distill")
    export_dataset(kept, out / "export")
    return kept, dict(stats)


def _distill_student(
    config: QuickstartConfig, models: ModelCache, out: Path, examples: int, stage: Stage
) -> tuple[str, float | None, str | None]:
    """Train the student (or reuse the one trained before); returns its spec, training speed and precision."""
    from agentdistill.distill.trainer import distill

    student_dir = out / "student"
    tokens_per_second: float | None = None
    train_precision: str | None
    if not (student_dir / "model" / STUDENT_MARKER).exists():
        models.close()  # training needs the memory: a 1.5B teacher in fp32 holds ~6 GB (reloaded for its eval)
        stage(f"distill {examples} trajectories into {config.student} (LoRA, {config.epochs:g} epochs)")
        result = distill(
            DistillConfig.build(
                data=str(out / "export"),
                student=config.student,
                out=str(student_dir),
                epochs=config.epochs,
                dtype=config.dtype,
            )
        )
        tokens_per_second, train_precision = result.tokens_per_second, str(result.precision)
    else:
        train_precision = _trained_precision(student_dir)
    if config.backend != "transformers" and config.dtype == "auto" and engine_is_built():
        to_gguf(student_dir / "model")  # a student trained by an older run gets its GGUF now (kept if there)
    return f"hf:{student_dir / 'model'}", tokens_per_second, train_precision


def _evaluate_rows(
    config: QuickstartConfig, models: ModelCache, out: Path, distilled: str, stage: Stage, progress
) -> list[EvalSummary]:
    runs = (
        [
            ("closed-book-student", "student closed-book", config.student, 1),
            ("closed-book-teacher", "teacher closed-book", config.teacher, 1),
        ]
        if config.closed_book
        else []
    )
    runs += [("prompted", "student prompted", config.student, 1), ("distilled", "student distilled", distilled, 1)]
    if config.sag > 1:
        runs.append(("distilled-sag", f"distilled + SAG x{config.sag}", distilled, config.sag))
    runs.append(("teacher", "teacher", config.teacher, 1))
    summaries = []
    for slug, label, spec, sag in runs:
        for suite in config.suites:
            stage(f"evaluate {label} on {config.test_tasks} {suite} test tasks")
            eval_config = EvalConfig.build(
                suite=suite,
                split="test",
                n=config.test_tasks,
                model=spec,
                out=str(out / "eval" / f"{slug}-{suite}"),
                label=label,
                sag=sag,
                temperature=config.sag_temperature if sag > 1 else 0.0,
                closed_book=slug.startswith("closed-book"),
                **config.episode_settings(),
            )
            summaries.append(evaluate(eval_config, model=models(spec), on_record=progress))
    return summaries


def _trained_precision(student_dir: Path) -> str | None:
    """The training precision recorded by an earlier run's `distill` (None if there is none, or it predates it)."""
    from agentdistill.llm.precision import TrainingPrecision

    try:
        summary = json.loads((student_dir / "summary.json").read_text(encoding="utf-8"))
        return str(TrainingPrecision.model_validate(summary["precision"]))
    except (OSError, ValueError, KeyError):
        return None
