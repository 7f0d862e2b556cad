"""`ExperimentConfig`: the paper's comparison as one file: teacher runs, distilled students, evaluated rows.

name: distill-table
teacher: qwen2.5-coder-1.5b
student: qwen2.5-coder-0.5b
suites: [math, facts, gsm_symbolic]
teacher_runs:            # trajectories the students learn from (train split)
  - {name: agent, train_tasks: 150}     # collect's default recipe: best-of-4, 2 correct per task at most
  - {name: cot, suites: [math, facts], train_tasks: 100, settings: {closed_book: true}}
students:                # one student per condition, trained on every suite of its teacher runs together
  - {name: agent-distilled, data: [agent]}
  - {name: cot-distilled, data: [cot]}
rows:                    # what is evaluated on the test split of each suite
  - {name: student prompted, model: student}
  - {name: agent-distilled, model: agent-distilled}
  - {name: agent-distilled + SAG, model: agent-distilled, settings: {sag: 4}}
  - {name: cot-distilled, model: cot-distilled, suites: [math, facts], settings: {closed_book: true}}
  - {name: teacher, model: teacher}
compare:                 # paired tests, each [A, B] on the same tasks
  - [student prompted, agent-distilled]
goals:                   # checked by the report (pipeline/experiment_goals.py)
  - {kind: margin, name: distilled beats prompted by 15, row: agent-distilled, baseline: student prompted, points: 15}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, model_validator

from agentdistill.config import DEFAULT_STUDENT, DEFAULT_TEACHER, CommandConfig, ModelSettings, ModelSpec
from agentdistill.distill.distill_config import DistillConfig
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.eval_config import EvalConfig
from agentdistill.pipeline.experiment_goals import Goal


def slug(name: str) -> str:
    """A file-name form of a row or run name: 'agent-distilled + SAG' -> 'agent-distilled-sag'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class TeacherRun(BaseModel):
    """Teacher trajectories on the train split of some suites, collected with `collect` settings."""

    name: str
    suites: list[str] | None = Field(None, description="Default: the experiment's suites.")
    train_tasks: int = Field(ge=1)
    settings: dict[str, Any] = Field(default_factory=dict, description="CollectConfig settings (the recipe).")


class StudentRun(BaseModel):
    """One distilled student, trained on the correct trajectories of some teacher runs together."""

    name: str
    data: list[str] = Field(min_length=1, description="Names of the teacher runs it learns from.")
    max_per_task: int | None = Field(2, ge=1, description="Trajectories kept per task (best-of-k gives several).")
    max_examples: int | None = Field(
        None, ge=1, description="Train on this many of them (a seeded sample; smaller ones nest in larger ones)."
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="DistillConfig settings.")


class Row(BaseModel):
    """One evaluated row: a model (`student`, `teacher` or a student run's name) with `eval` settings."""

    name: str
    model: str
    suites: list[str] | None = Field(None, description="Default: the experiment's suites.")
    settings: dict[str, Any] = Field(default_factory=dict, description="EvalConfig settings (sag, closed_book...).")


class ExperimentConfig(ModelSettings, CommandConfig):
    """Teacher runs -> students -> rows, each stage resumable; results go to `out` (default results/NAME).
    `backend` and `dtype` say where every local model runs: the teacher, the student and each distilled one
    (`backend: vllm` on a GPU machine serves them all with vLLM)."""

    name: str
    out: str | None = None
    teacher: ModelSpec = DEFAULT_TEACHER
    student: ModelSpec = DEFAULT_STUDENT
    suites: list[str] = Field(min_length=1)
    test_tasks: int = Field(100, ge=1)
    episode: dict[str, Any] = Field(
        default_factory=dict, description="Settings every collection and evaluation shares (max_steps, concurrency)."
    )
    teacher_runs: list[TeacherRun] = Field(default_factory=list)
    students: list[StudentRun] = Field(default_factory=list)
    rows: list[Row] = Field(min_length=1)
    compare: list[tuple[str, str]] = Field(default_factory=list, description="Row pairs to test on the same tasks.")
    goals: list[Goal] = Field(default_factory=list, description="What the report checks: met, not met or pending.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if shadowed := sorted({"backend", "dtype"} & set(self.episode)):
            raise ValueError(f"episode: {', '.join(shadowed)} is set once, at the top of the file, for every model")
        runs, students, rows = {r.name for r in self.teacher_runs}, {s.name for s in self.students}, set()
        for student in self.students:
            if missing := set(student.data) - runs:
                raise ValueError(f"student {student.name!r} learns from unknown teacher runs {sorted(missing)}")
        for row in self.rows:
            if row.model not in {"student", "teacher"} | students:
                raise ValueError(f"row {row.name!r}: model is student, teacher or a student run, not {row.model!r}")
            if slug(row.name) in rows:
                raise ValueError(f"two rows are named {row.name!r} (names must differ in letters or digits)")
            rows.add(slug(row.name))
        for a, b in self.compare:
            if not {slug(a), slug(b)} <= rows:
                raise ValueError(f"compare [{a}, {b}]: both must be rows")
        for goal in self.goals:
            if unknown := [name for name in goal.rows() if slug(name) not in rows]:
                raise ValueError(f"goal {goal.name!r} reads rows that are not in the file: {unknown}")
            if unknown := sorted(set(goal.named_suites()) - set(self.suites)):
                raise ValueError(f"goal {goal.name!r} names suites the experiment does not run: {unknown}")
        for run in self.teacher_runs:  # a bad setting fails at load, not hours into the run
            for suite in self.suites_of(run):
                self.collect_config(run, suite)
        for student in self.students:
            self.distill_config(student)
        for row in self.rows:
            for suite in self.suites_of(row):
                self.eval_config(row, suite)
        return self

    @property
    def folder(self) -> Path:
        return Path(self.out or f"results/{self.name}")

    @property
    def stage_log(self) -> Path:
        """The wall time of every stage run that did some work (`pipeline/wall_time.py`)."""
        return self.folder / "stages.jsonl"

    def suites_of(self, item: TeacherRun | Row) -> list[str]:
        return item.suites or self.suites

    def collect_config(self, run: TeacherRun, suite: str) -> CollectConfig:
        values = {**self.episode, **run.settings}
        # a store per run and suite: each stays under the repository's file limit, and a finished one can be
        # gzipped on its own (TrajectoryStore reads NAME.jsonl.gz) while the others still collect
        out = self.folder / "teacher" / f"{slug(run.name)}-{suite}.jsonl"
        return CollectConfig.build(
            **values, suite=suite, split="train", n=run.train_tasks, teacher=self.teacher, out=str(out)
        )

    def student_path(self, student: StudentRun) -> Path:
        return self.folder / "students" / slug(student.name)

    def distill_config(self, student: StudentRun) -> DistillConfig:
        data = self.student_path(student) / "export"
        return DistillConfig.build(
            **student.settings, data=str(data), student=self.student, out=str(self.student_path(student))
        )

    def student_of(self, row: Row) -> StudentRun | None:
        """The student run a row evaluates; None for the prompted student and the teacher."""
        if row.model in ("student", "teacher"):
            return None
        return next(s for s in self.students if s.name == row.model)

    def student_model(self, student: StudentRun) -> str:
        """The model spec of the student's trained (merged) model."""
        return f"hf:{self.student_path(student) / 'model'}"

    def model_spec(self, row: Row) -> str:
        student = self.student_of(row)
        if student is not None:
            return self.student_model(student)
        return self.student if row.model == "student" else self.teacher

    def eval_config(self, row: Row, suite: str) -> EvalConfig:
        values = {**self.episode, **row.settings}
        if values.get("sag", 1) > 1 and "temperature" not in values:
            values["temperature"] = 0.7  # SAG samples its candidates
        out = self.folder / "eval" / f"{slug(row.name)}-{suite}"
        return EvalConfig.build(
            **values,
            suite=suite,
            split="test",
            n=self.test_tasks,
            model=self.model_spec(row),
            out=str(out),
            label=row.name,
        )
