"""Built-in tools by name, so that configs, CLI options and stored records can name a tool as a string."""

from __future__ import annotations

from agentdistill.errors import UnknownNameError
from agentdistill.tools.base import Tool

RETRIEVE = "retrieve"  # dense search over the built-in countries corpus


def builtin_tool_names() -> list[str]:
    from agentdistill.tools.materials.agent_tools import MATERIALS_TOOL_NAMES

    return [RETRIEVE, *MATERIALS_TOOL_NAMES]


def resolve_tool(spec: Tool | str) -> Tool:
    """A Tool as given, or a built-in by name: `retrieve` searches the built-in countries corpus;
    `search_materials`, `get_properties`, `analyze_composition`, `analyze_structure` use the materials snapshot."""
    if isinstance(spec, Tool):
        return spec
    if spec == RETRIEVE:
        from agentdistill.tools.corpora import builtin_retriever

        return builtin_retriever().as_tool()
    from agentdistill.tools.materials.agent_tools import (
        MATERIALS_TOOL_NAMES,
        default_materials_tools,
    )

    if spec in MATERIALS_TOOL_NAMES:
        return default_materials_tools()[spec]
    raise UnknownNameError(
        f"unknown tool {spec!r}; built-ins: python, {', '.join(builtin_tool_names())} (or pass a Tool object)"
    )
