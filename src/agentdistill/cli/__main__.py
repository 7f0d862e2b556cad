from agentdistill.cli import app

app()
