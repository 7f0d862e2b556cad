"""Trajectory records: typed steps of an agent episode, the unit of teacher data and evaluation."""

from agentdistill.trajectories.schema import ActionStep, Termination, Trajectory

__all__ = ["ActionStep", "Termination", "Trajectory"]
