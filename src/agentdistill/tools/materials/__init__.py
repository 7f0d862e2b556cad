"""Materials data for agents: one `MaterialsStore` interface, two stores, and the tools built on them.

- `SnapshotStore`: the embedded offline snapshot (Materials Project via Matbench v0.1, CC BY 4.0).
- `MPStore`: the live Materials Project API through `mp-api` (optional extra `agentdistill[mp]`).
"""

from agentdistill.tools.materials.records import (
    PROPERTIES,
    MaterialQuery,
    MaterialRecord,
    MaterialsError,
    MaterialsStore,
)
from agentdistill.tools.materials.snapshot import ATTRIBUTION, SnapshotStore

__all__ = [
    "ATTRIBUTION",
    "PROPERTIES",
    "MPStore",
    "MaterialQuery",
    "MaterialRecord",
    "MaterialsError",
    "MaterialsStore",
    "SnapshotStore",
]


def __getattr__(name: str):
    # mp-api takes seconds to import and is optional: import it only when asked for
    if name == "MPStore":
        from agentdistill.tools.materials.mp_store import MPStore

        return MPStore
    raise AttributeError(name)
