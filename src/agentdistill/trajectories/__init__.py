"""Trajectories as data: versioned training records, a crash-safe store, filters and the SFT export.

The typed steps an agent produces (`Trajectory`, `ActionStep`) live with the agents, in `agents.memory`."""

from agentdistill.trajectories.record import (
    SCHEMA_VERSION,
    PrefixInfo,
    TrajectoryRecord,
)
from agentdistill.trajectories.store import TrajectoryStore

__all__ = ["SCHEMA_VERSION", "PrefixInfo", "TrajectoryRecord", "TrajectoryStore"]
