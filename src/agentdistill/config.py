"""Command configs: one pydantic model per command, stated once, loadable from a YAML/JSON file.

Each command's settings are a `CommandConfig` (as TRL's trainers each have a config dataclass); the CLI options
are generated from its fields (`cli/config_options.py`), so a default, a type or a help text is written in one
place. Settings that several commands share live in shared bases (`ModelSettings`, `SamplingSettings`).

    config = CollectConfig.load("experiments/teacher.yaml", n=50)   # the file, then overrides
    config.save("runs/teacher/config.yaml")                         # what a run used, as a file to commit
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from agentdistill.errors import ConfigError, InputFileError, MissingFileError
from agentdistill.llm import Backend
from agentdistill.llm.base import SamplingParams
from agentdistill.llm.registry import DEFAULT_CHAT_MODEL, DEFAULT_TEACHER_MODEL

Dtype = Literal["auto", "fp32", "bf16", "fp16"]
DEFAULT_TEACHER = DEFAULT_TEACHER_MODEL
DEFAULT_STUDENT = DEFAULT_CHAT_MODEL


def cli(*flags: str, argument: bool = False, hidden: bool = False) -> dict[str, Any]:
    """How a field appears on the command line, beyond `--field-name` (for `Field(json_schema_extra=...)`):
    extra `flags` such as "-n", a positional `argument`, or `hidden` (config file only)."""
    return {"cli": {"flags": list(flags), "argument": argument, "hidden": hidden}}


def describe_validation_error(error: ValidationError, name: Callable[[str], str] = str) -> str:
    """A pydantic error as one line, `field: problem; other: problem`, each field shown as `name(field)` (the
    CLI shows its option, e.g. --max-steps); a problem of the whole config has no field."""
    parts = []
    for problem in error.errors()[:5]:
        message = problem["msg"].removeprefix("Value error, ")
        where = [str(p) for p in problem["loc"]]
        parts.append(f"{name(where[0])}{''.join(f'.{p}' for p in where[1:])}: {message}" if where else message)
    return "; ".join(parts)


def check_model_spec(spec: str) -> str:
    """A model spec as `load_chat_model` takes it: an embedded name, hf:PATH, openai:MODEL@URL, engine:NAME or a
    .gguf path. Only the form and embedded names are checked here (a missing folder fails when it loads)."""
    from agentdistill.llm import registry

    bare = spec.removeprefix("engine:")
    if spec.startswith(("hf:", "openai:")) or bare.endswith(".gguf") or bare in registry.EMBEDDED:
        return spec
    if Path(bare).expanduser().is_dir():
        return spec
    raise ValueError(str(registry.UnknownModel(bare)))


ModelSpec = Annotated[str, AfterValidator(check_model_spec)]


class CommandConfig(BaseModel):
    """Base of every command's config: unknown keys are errors, and so is any invalid value."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def build(cls, **values: Any) -> Self:
        """Validate `values` into a config; an invalid one is a `ConfigError` with a one-line message."""
        try:
            return cls(**values)
        except ValidationError as error:
            raise ConfigError(f"{cls.__name__}: {describe_validation_error(error)}") from None

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Self:
        """The settings in a YAML or JSON file (if any), with `overrides` on top; raises pydantic's
        ValidationError (with every problem) for invalid ones, an `InputFileError` for a broken file."""
        values = read_config_file(path) if path is not None else {}
        return cls(**{**values, **overrides})

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> Self:
        """The settings in the file (`overrides` on top); an invalid one is a `ConfigError` with one line naming
        the file (for commands that take a whole config file as their argument: `study run`, `experiment run`)."""
        try:
            return cls.load(path, **overrides)
        except ValidationError as error:
            raise ConfigError(f"{path}: {describe_validation_error(error)}") from None

    def save(self, path: str | Path) -> Path:
        """Write the config as YAML (or JSON for a .json path), so a run can be repeated from the file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        text = json.dumps(data, indent=2) if path.suffix == ".json" else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A mapping of settings from a .yaml/.yml/.json file; a broken file is an error that names it."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no config file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
        raise InputFileError(f"{path} is not a valid config file: {str(error).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(f"{path} must hold a mapping of settings (key: value), not a {type(data).__name__}")
    return data


class DtypeSettings(BaseModel):
    """The precision of local models (resolved per machine and purpose by `llm.precision`)."""

    dtype: Dtype = Field(
        "auto",
        description="Precision of transformers models: auto (the fastest sound one on this "
        "machine: fp32 on CPUs without native bf16, bf16 with it or on a GPU), fp32, bf16 or fp16 "
        "(float32/bfloat16/float16 too).",
    )

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype_alias(cls, value: Any) -> Any:
        from agentdistill.llm.precision import parse_dtype

        return parse_dtype(value) if isinstance(value, str) else value


class ModelSettings(DtypeSettings):
    """Where and in which precision local models run (shared by every command that loads one)."""

    backend: Backend = Field(
        "auto",
        description="Where local models run: engine (llama.cpp, `agentdistill engine "
        "build`), transformers (in-process, --dtype), vllm (a vLLM server it starts, on a GPU), "
        "or auto: the engine when it is built and no --dtype is asked.",
    )

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_name(cls, value: Any) -> Any:
        from agentdistill.llm import parse_backend

        return parse_backend(value) if isinstance(value, str) else value

    def load_model(self, spec: str) -> Any:
        """Model `spec` (an `AgentChatModel`) on this config's backend, in its precision."""
        from agentdistill.llm import load_chat_model

        return load_chat_model(spec, dtype=self.dtype, backend=self.backend)


class SamplingSettings(BaseModel):
    """How the model samples: the one route from a config to every model call (`sampling()`)."""

    temperature: float = Field(0.0, ge=0.0, description="0 = greedy (with --sag: 0.7).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    seed: int = Field(0, description="Task order and sampling seed.")

    def sampling(self, sag: int = 1) -> SamplingParams:
        """The settings every model call of a run uses (the one route from a config to the model). A greedy 0
        with `sag` > 1 candidates means "not chosen" (configs default to greedy), so the agent's SAG default
        temperature applies."""
        temperature = None if sag > 1 and self.temperature == 0 else self.temperature
        return SamplingParams(temperature=temperature, top_p=self.top_p, seed=self.seed)


def split_commas(value: Any) -> Any:
    """`--suites math,facts` and `--suites math --suites facts` both give ['math', 'facts']."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value
