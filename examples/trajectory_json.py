"""Run the default agent on a question and save its trajectory (the training record) as JSON.

python examples/trajectory_json.py "What is the population density of Malta?" out.json
"""

import sys
from pathlib import Path

from agentdistill import CodeAgent

question, out = sys.argv[1], Path(sys.argv[2])
trajectory = CodeAgent("qwen2.5-coder-0.5b", tools=["retrieve"]).run(question)
out.write_text(trajectory.model_dump_json(indent=2))
print(f"{trajectory.termination}: {trajectory.final_answer!r} in {len(trajectory.steps)} steps -> {out}")
