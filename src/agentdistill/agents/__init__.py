"""Agents: LangGraph graphs whose nodes are plain functions."""

from agentdistill.agents.code_agent import CodeAgent, build_graph

__all__ = ["CodeAgent", "build_graph"]
