"""Commands generated from their config models (as TRL's `TrlParser` builds its CLI from its config dataclasses).

`config_command(app, CollectConfig, run)` registers a command whose options are the config's fields: the name
(`max_steps` -> `--max-steps`), the type (a `Literal` becomes a choice, a bool a `--x/--no-x` flag, a list a
repeatable option), the default and the help text all come from the model. Every such command also takes
`--config FILE` (YAML or JSON): the file's settings, then the options given on the command line. The config is
validated before the command runs, so a bad value is a usage error before any model loads.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agentdistill.config import CommandConfig, describe_validation_error

C = TypeVar("C", bound=CommandConfig)
CONFIG_PARAM = "config_file"


def _cli_meta(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    meta = extra.get("cli", {})
    return meta if isinstance(meta, dict) else {}


def _cli_type(annotation: Any) -> tuple[Any, str | None]:
    """The annotation typer gets and a metavar: scalars as they are, `X | None` as Optional[X], a Literal as a
    string shown as its choices (the config validates it, and its validators may accept aliases such as float32)."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        cli_type, metavar = _cli_type(inner[0])
        return typing.Optional[cli_type], metavar  # noqa: UP045 (typer reads the typing form)
    if origin is Literal:
        return str, "[" + "|".join(str(choice) for choice in typing.get_args(annotation)) + "]"
    if annotation in (str, int, float, bool):
        return annotation, None
    if origin is list:
        return list[str], None
    return str, None


def _fields_in_order(config_cls: type[CommandConfig]) -> list[tuple[str, FieldInfo]]:
    """The command's own fields first, then those of its bases (pydantic lists the bases' first)."""
    order: list[str] = []
    for klass in config_cls.__mro__:
        for name in getattr(klass, "__annotations__", {}):
            if name in config_cls.model_fields and name not in order:
                order.append(name)
    return [(name, config_cls.model_fields[name]) for name in order]


def _option(name: str, field: FieldInfo) -> tuple[Any, Any]:
    """(default for the signature, annotation) of one field."""
    meta = _cli_meta(field)
    default = None if field.default is PydanticUndefined else field.default
    if field.default_factory is not None:
        default = field.default_factory()  # type: ignore[call-arg]
    annotation, metavar = _cli_type(field.annotation)
    help_text = field.description or ""
    if meta.get("argument"):
        required = field.is_required()
        return typer.Argument(
            ... if required else default, help=help_text, show_default=not required, metavar=metavar
        ), annotation
    flag, extra = _long_flag(name), list(meta.get("flags", []))
    if annotation in (bool, typing.Optional[bool]):  # noqa: UP045
        flags = extra or [f"{flag}/--no-{flag[2:]}"]  # a switch: --x/--no-x, or the flags given instead (--json)
    else:
        flags = [flag, *extra] if flag else extra
    return typer.Option(
        default,
        *flags,
        help=help_text,
        hidden=meta.get("hidden", False),
        metavar=metavar,
        show_default=default is not None and default != [],
    ), annotation


def config_parameters(config_cls: type[CommandConfig]) -> list[inspect.Parameter]:
    """The command's parameters: a typer.Context, one per config field, and `--config FILE`."""
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for name, field in _fields_in_order(config_cls):
        if _cli_meta(field).get("hidden"):
            continue
        default, annotation = _option(name, field)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    params.append(
        inspect.Parameter(
            CONFIG_PARAM,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=typing.Optional[Path],  # noqa: UP045
            default=typer.Option(
                None, "--config", dir_okay=False, help="YAML or JSON file of settings; options given here override it."
            ),
        )
    )
    return params


def config_from_context(config_cls: type[C], ctx: typer.Context, values: dict[str, Any]) -> C:
    """The config a command line asks for: its --config file, then the options given explicitly (defaults come
    from the model, not from the CLI). An invalid result is a usage error (exit 2)."""
    given = {name: value for name, value in values.items() if name != CONFIG_PARAM and _given(ctx, name)}
    try:
        return config_cls.load(values.get(CONFIG_PARAM), **given)
    except ValidationError as error:
        raise typer.BadParameter(describe_validation_error(error, lambda field: _flag_of(config_cls, field))) from None


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the command line (or the environment) set `name`. Compared by name: typer may bring its own copy
    of click, whose ParameterSource is another enum than `click.core`'s."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _long_flag(name: str) -> str:
    """`--max-steps` for max_steps; none for a one-letter field (n), which is only its short flag (-n)."""
    return "" if len(name) == 1 else "--" + name.replace("_", "-")


def _flag_of(config_cls: type[CommandConfig], name: str) -> str:
    """How an error names a field: its option as the command line spells it."""
    field = config_cls.model_fields.get(name)
    if field is None:
        return name
    meta = _cli_meta(field)
    if meta.get("argument"):
        return name.upper()
    return _long_flag(name) or meta.get("flags", [name])[0]


def config_command(
    app: typer.Typer, config_cls: type[C], run: Callable[[C], None], name: str | None = None, help: str | None = None
) -> Callable[..., None]:
    """Register `run(config)` as the command `name`, its options generated from `config_cls`."""

    def command(ctx: typer.Context, **values: Any) -> None:
        run(config_from_context(config_cls, ctx, values))

    command.__signature__ = inspect.Signature(config_parameters(config_cls))  # type: ignore[attr-defined]
    command.__doc__ = help or run.__doc__
    command.__name__ = name or run.__name__
    app.command(name or run.__name__.replace("_", "-"))(command)
    return command
