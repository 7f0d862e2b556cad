import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agentdistill.llm import registry  # noqa: E402
from agentdistill.llm.base import AgentChatModel, Completion, SamplingParams  # noqa: E402


class ScriptedModel(AgentChatModel):
    """Test double: replies with canned outputs in order and records every conversation it was given."""

    outputs: list[str]
    seen: list = []

    def complete_batch(self, conversations, params: SamplingParams | None = None):
        results = []
        for conversation in conversations:
            self.seen.append(conversation)
            text = self.outputs.pop(0) if self.outputs else "Thought: nothing left to say."
            results.append([Completion(text=text, prompt_tokens=10, completion_tokens=len(text.split()))])
        return results


@pytest.fixture
def scripted():
    def make(*outputs: str) -> ScriptedModel:
        return ScriptedModel(model_id="scripted", outputs=list(outputs), seen=[])

    return make


def require_model(name: str) -> None:
    if not registry.is_ready(name):
        pytest.skip(f"{name} not available: run `agentdistill models pull {name}`")


@pytest.fixture(scope="session")
def smollm():
    require_model("smollm2-135m")
    from agentdistill.llm import load_chat_model

    return load_chat_model("smollm2-135m", max_new_tokens=16)


@pytest.fixture(scope="session")
def qwen05():
    require_model("qwen2.5-coder-0.5b")
    from agentdistill.llm import load_chat_model

    return load_chat_model("qwen2.5-coder-0.5b")
