"""Commands that train and measure: distill, eval, report, quickstart."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentdistill.cli.common import _fail, _quiet_libraries, app, backend_option, console, dtype_option


@app.command()
def distill(
    data: Path = typer.Argument(..., exists=True, help="An `export` folder, its train.jsonl, or a trajectory store."),
    student: str = typer.Option("qwen2.5-coder-0.5b", help="Embedded model name or hf:PATH to fine-tune."),
    out: Path = typer.Option(Path("runs/student"), help="Output folder (adapter/, model/, loss.png, ...)."),
    full: bool = typer.Option(False, "--full", help="Full fine-tuning instead of LoRA."),
    lora_r: int = typer.Option(16, min=1, help="LoRA rank."),
    lora_alpha: int = typer.Option(32, min=1, help="LoRA alpha."),
    lora_dropout: float = typer.Option(0.05, min=0.0, max=0.99, help="LoRA dropout."),
    epochs: float = typer.Option(2.0, help="Passes over the data."),
    learning_rate: Optional[float] = typer.Option(None, help="Default 2e-4 (LoRA) / 2e-5 (full)."),
    batch_size: int = typer.Option(1, min=1, help="Examples per device step."),
    grad_accum: int = typer.Option(4, min=1, help="Steps per optimizer update."),
    max_length: int = typer.Option(2048, min=64, help="Longer conversations are cut."),
    mask_prefix: bool = typer.Option(False, "--mask-prefix", help="No loss on first-thought prefix tokens."),
    dtype: str = dtype_option(),
    gradient_checkpointing: bool = typer.Option(False, help="Trade compute for memory."),
    seed: int = typer.Option(0),
    merge: bool = typer.Option(True, "--merge/--no-merge", help="Also save a merged, standalone model."),
    gguf: str = typer.Option("q8_0", help="Also write the merged model as model-<type>.gguf for the engine: q8_0, "
                             "f16, bf16, f32, or none."),
) -> None:
    """Fine-tune a student on teacher trajectories with TRL (loss on the agent's own turns only)."""
    from agentdistill.distill import DistillConfig
    from agentdistill.distill.trainer import distill as run_distill
    from agentdistill.llm import ModelNotAvailable, UnknownModel

    _quiet_libraries()
    try:
        config = DistillConfig(data=str(data), student=student, out=str(out), full=full, lora_r=lora_r,
                               lora_alpha=lora_alpha, lora_dropout=lora_dropout, epochs=epochs,
                               learning_rate=learning_rate, batch_size=batch_size, grad_accum=grad_accum,
                               max_length=max_length, mask_prefix=mask_prefix, dtype=dtype,
                               gradient_checkpointing=gradient_checkpointing, seed=seed, merge=merge,
                               gguf=gguf)
        result = run_distill(config)
    except (ValueError, FileNotFoundError, ModelNotAvailable, UnknownModel) as error:
        _fail(str(error).strip("'\""))
    console.print(f"precision: {result.precision} ({result.precision.reason})")
    console.print(f"trained on {result.examples} conversations ({result.loss_tokens} loss tokens) in "
                  f"{result.seconds:.0f} s = {result.tokens_per_second:.0f} tokens/s; loss "
                  f"{result.first_loss:.3f} -> {result.last_loss:.3f}")
    served = f"; served by the engine from {result.gguf.name}" if result.gguf else ""
    console.print(f"student: {result.model_dir}  (use --model hf:{result.model_dir}{served})")


def _episode_progress(progress: Progress, bar) -> object:
    def on_record(record, summary) -> None:
        progress.update(bar, advance=1, description=f"solved {summary.correct}/{summary.done} ({summary.accuracy:.0%})")
    return on_record


@app.command("eval")
def eval_cmd(
    suite: str = typer.Option("math", help="Suite name (math, facts, materials, recbot) or a task file path."),
    split: str = typer.Option("test", help="train, test or all."),
    n: Optional[int] = typer.Option(None, "-n", help="Tasks to use (all if omitted)."),
    model: str = typer.Option("qwen2.5-coder-0.5b", "--model", "-m", help="Embedded name, hf:PATH, openai:MODEL@URL."),
    out: Path = typer.Option(Path("runs/eval"), help="Output folder: episodes.jsonl and summary.json."),
    label: Optional[str] = typer.Option(None, help="Name of this run in reports (default: the model)."),
    prompt_style: str = typer.Option("auto", help="auto (short for distilled students), full or short."),
    sag: int = typer.Option(1, min=1, max=64, help="Self-consistent actions: N candidates per step."),
    temperature: float = typer.Option(0.0, min=0.0, help="0 = greedy (with --sag: 0.7)."),
    top_p: float = typer.Option(1.0, min=0.01, max=1.0),
    seed: int = typer.Option(0),
    max_steps: int = typer.Option(5, min=1),
    max_new_tokens: int = typer.Option(320, min=16),
    concurrency: int = typer.Option(1, min=1, help="Episodes at once (batched generate for local models)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Keep episodes already in --out."),
    closed_book: bool = typer.Option(False, "--closed-book", help="Baseline: no tools, the model answers from memory in one reply."),
    catalog: str = typer.Option("default", help="recbot: default, movielens:PATH, csv:PATH or jsonl:PATH."),
    planner_model: Optional[str] = typer.Option(None, help="recbot: planner model (default: --model plans too)."),
    max_turns: int = typer.Option(5, min=1, help="recbot: commands per simulated session."),
    paraphrase_model: Optional[str] = typer.Option(None, help="recbot: a model paraphrases the simulated commands."),
    dtype: str = dtype_option(),
    backend: str = backend_option(),
) -> None:
    """Evaluate a model as an agent on held-out tasks: per-task records and a summary (with MAE on the
    regression-style tasks of the materials suite)."""
    from agentdistill.evaluation import EvalConfig, evaluate
    from agentdistill.evaluation.evaluate import SUMMARY_COLUMNS
    from agentdistill.llm import ModelNotAvailable, UnknownModel

    _quiet_libraries()
    if suite == "recbot":  # simulated feed sessions instead of tasks; -n counts sessions
        from agentdistill.cli.recbot_commands import recbot_eval
        from agentdistill.recsys.catalog import CatalogError
        from agentdistill.recsys.evaluate import RecbotConfig

        try:
            recbot_eval(RecbotConfig(catalog=catalog, parser_model=model, planner_model=planner_model,
                                     sessions=n or 20, max_turns=max_turns, split=split, seed=seed,
                                     paraphrase_model=paraphrase_model, out=str(out), label=label, resume=resume,
                                     dtype=dtype, backend=backend))
        except (ValueError, CatalogError, ModelNotAvailable, UnknownModel) as error:
            _fail(str(error))
        return
    columns = [TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn()]
    try:
        config = EvalConfig(suite=suite, split=split, n=n, model=model, out=str(out), label=label,
                            prompt_style=prompt_style, sag=sag, temperature=temperature,
                            top_p=top_p, seed=seed, max_steps=max_steps, max_new_tokens=max_new_tokens,
                            concurrency=concurrency, resume=resume, closed_book=closed_book, dtype=dtype,
                            backend=backend)
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("", total=None)
            summary = evaluate(config, on_record=_episode_progress(progress, bar),
                               total=lambda todo, skipped: progress.update(bar, total=todo))
    except (ValueError, KeyError, OSError, ModelNotAvailable, UnknownModel) as error:
        _fail(str(error).strip("'\""))
    table = Table(*SUMMARY_COLUMNS)
    table.add_row(*summary.row())
    console.print(table)
    console.print(f"[dim]{out}/summary.json, {out}/episodes.jsonl[/]")


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="Eval output folders (e.g. runs/eval-*)."),
    out: Path = typer.Option(Path("runs/report"), help="Writes OUT.md (table) and OUT.png (bar chart)."),
) -> None:
    """Compare eval runs: a markdown table and an accuracy bar chart."""
    from agentdistill.evaluation import load_summary, write_report
    from agentdistill.evaluation.report import markdown_table

    try:
        summaries = [load_summary(folder) for folder in runs]
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))
    md, png = write_report(summaries, out)
    console.print(markdown_table(summaries), markup=False)
    console.print(f"[dim]{md}, {png}[/]")


@app.command()
def quickstart(
    tiny: bool = typer.Option(False, "--tiny", help="A few-minute smoke run (0.5B teacher, 135M student, 2 tasks)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/quickstart or runs/quickstart-tiny)."),
    teacher: Optional[str] = typer.Option(None, help="Teacher model (default qwen2.5-coder-1.5b)."),
    student: Optional[str] = typer.Option(None, help="Student model (default qwen2.5-coder-0.5b; smollm2-135m is fast)."),
    train_tasks: Optional[int] = typer.Option(None, min=1, help="Train tasks per suite for the teacher."),
    test_tasks: Optional[int] = typer.Option(None, min=1, help="Held-out test tasks per suite."),
    epochs: Optional[float] = typer.Option(None, help="Distillation epochs."),
    sag: Optional[int] = typer.Option(None, min=0, help="Candidates per step for the +SAG run (0: no SAG run)."),
    suites: Optional[str] = typer.Option(None, help="Comma-separated suites (default math,facts), e.g. materials."),
    closed_book: bool = typer.Option(False, "--closed-book", help="Also evaluate both models without tools."),
    concurrency: Optional[int] = typer.Option(None, min=1, help="Episodes stepped together in one batch."),
    prefix: Optional[bool] = typer.Option(None, "--prefix/--no-prefix", help="First-thought prefixes for the teacher."),
    dtype: str = dtype_option(),
    backend: str = backend_option(),
) -> None:
    """The whole pipeline, offline on CPU: teacher trajectories -> filter -> distill -> evaluate -> report."""
    from agentdistill.llm import ModelNotAvailable, UnknownModel
    from agentdistill.quickstart import QuickstartConfig, run_quickstart

    _quiet_libraries()
    overrides = {k: v for k, v in dict(out=str(out) if out else None, teacher=teacher, student=student,
                                       train_tasks=train_tasks, test_tasks=test_tasks, epochs=epochs, sag=sag,
                                       concurrency=concurrency, prefix=prefix, closed_book=closed_book or None,
                                       dtype=dtype, backend=backend,
                                       suites=[s.strip() for s in suites.split(",") if s.strip()] if suites else None,
                                       ).items() if v is not None}
    config = QuickstartConfig.tiny(**overrides) if tiny else QuickstartConfig(**overrides)
    columns = [TextColumn("[bold]{task.fields[stage]}[/]"), BarColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("", total=None, stage="starting")

        def stage(name: str) -> None:
            progress.console.print(f"[bold cyan]>[/] {name}")
            progress.update(bar, stage=name.split(" ")[0], description="", completed=0)

        def on_record(record, summary) -> None:
            progress.update(bar, advance=1, description=f"episode {summary.done}: solved {summary.correct}")

        try:
            result = run_quickstart(config, stage=stage, progress=on_record)
        except (ValueError, RuntimeError, ModelNotAvailable, UnknownModel) as error:
            _fail(str(error))
    stats = ", ".join(f"{k} {v}" for k, v in result.filter_stats.items())
    console.print(f"filter: {stats}")
    if result.train_tokens_per_second:
        console.print(f"distillation: {result.train_examples} conversations, "
                      f"{result.train_tokens_per_second:.0f} training tokens/s")
    if result.train_precision:
        console.print(f"student trained in {result.train_precision}")
    console.print(result.table(), markup=False)
    console.print(f"[dim]{result.report_md}, {result.report_png}[/]")
