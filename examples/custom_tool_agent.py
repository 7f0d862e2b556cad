"""A code agent with your own tool and your own retrieval corpus.

python examples/custom_tool_agent.py
"""

from agentdistill import CodeAgent, load_chat_model
from agentdistill.tools import Retriever, tool
from agentdistill.tools.retriever import Passage


@tool
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32


notes = Retriever.build(
    [
        Passage(id="1", title="Lab notebook", text="The furnace was held at 850 degrees Celsius for two hours."),
        Passage(id="2", title="Lab notebook", text="Samples were quenched in water at 20 degrees Celsius."),
    ]
)

agent = CodeAgent(
    load_chat_model("qwen2.5-coder-0.5b"),
    tools=[celsius_to_fahrenheit, notes.as_tool(name="search_notes")],
    max_steps=4,
)
for item in agent.stream("At what temperature in Fahrenheit was the furnace held?"):
    print(item if not hasattr(item, "messages") else f"answer: {item.final_answer!r}")
