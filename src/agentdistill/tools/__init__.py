"""Tools agents call from their code: the confined Python sandbox, dense retrieval, user tools."""

from agentdistill.tools.base import Tool, ToolInputError, tool
from agentdistill.tools.sandbox import (
    ExecutionResult,
    PythonSandbox,
    SandboxError,
    SandboxLimits,
)

__all__ = [
    "ExecutionResult",
    "PythonSandbox",
    "Retriever",
    "SandboxError",
    "SandboxLimits",
    "Tool",
    "ToolInputError",
    "tool",
]


def __getattr__(name: str):
    # the retriever pulls in faiss and sentence-transformers: import it only when asked for
    if name == "Retriever":
        from agentdistill.tools.retriever import Retriever

        return Retriever
    raise AttributeError(name)
