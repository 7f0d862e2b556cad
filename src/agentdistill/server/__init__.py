"""The demo chat server of the interactive recommendation feed (`agentdistill serve`)."""
