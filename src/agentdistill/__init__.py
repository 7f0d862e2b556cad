"""agentdistill: build tool-using LLM agents and distill them into small models that run anywhere."""

from agentdistill.agents import CodeAgent
from agentdistill.agents.memory import ActionStep, Trajectory
from agentdistill.llm import load_chat_model

__version__ = "0.1.0"
__all__ = ["ActionStep", "CodeAgent", "Trajectory", "__version__", "load_chat_model"]
