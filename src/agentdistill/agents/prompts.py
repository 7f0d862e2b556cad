"""Prompt templates as data: YAML files of Jinja2 templates next to this module."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import Any

import jinja2
import yaml

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)


@lru_cache(maxsize=8)
def load_templates(name: str) -> dict[str, str]:
    """The templates of `prompts/NAME.yaml`."""
    return yaml.safe_load(files("agentdistill.agents").joinpath("prompts", f"{name}.yaml").read_text())


def render(name: str, key: str, **variables: Any) -> str:
    """Render template `key` of `prompts/NAME.yaml`; templates may use other templates of the file by key,
    rendered with the same variables."""
    templates = load_templates(name)
    context = dict(variables)
    for other in templates:
        if other != key and "{{ " + other + " }}" in templates[key]:
            context[other] = _ENV.from_string(templates[other]).render(**variables)
    return _ENV.from_string(templates[key]).render(**context).strip()
