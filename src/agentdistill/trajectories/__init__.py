"""Trajectories: typed steps of an episode, versioned training records, a crash-safe store."""

from agentdistill.trajectories.record import SCHEMA_VERSION, PrefixInfo, TrajectoryRecord
from agentdistill.trajectories.schema import ActionStep, Candidate, Termination, Trajectory
from agentdistill.trajectories.store import TrajectoryStore

__all__ = ["SCHEMA_VERSION", "ActionStep", "Candidate", "PrefixInfo", "Termination", "Trajectory", "TrajectoryRecord",
           "TrajectoryStore"]
