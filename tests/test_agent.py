import pytest

from agentdistill import ActionStep, CodeAgent, Trajectory
from agentdistill.agents.closed_book import ClosedBookAgent
from agentdistill.llm import SamplingParams
from agentdistill.tools import tool


@tool
def capital(country: str) -> str:
    """The capital of a country."""
    return {"peru": "Lima"}.get(country.lower(), "unknown")


def test_think_act_observe_until_final_answer(scripted):
    model = scripted(
        "Thought: compute it.\n```python\nx = 1234 * 5678\nprint(x)\n```",
        "Thought: done.\n```python\nfinal_answer(x)\n```",
    )
    trajectory = CodeAgent(model).run("What is 1234 * 5678?")
    assert trajectory.final_answer == 7006652 and trajectory.termination == "final_answer"
    assert [s.observation for s in trajectory.steps] == ["7006652", "Final answer: 7006652"]
    roles = [m["role"] for m in trajectory.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert trajectory.messages[3]["content"] == "Observation:\n7006652"
    # the model saw the observation of step 1 before writing step 2
    assert model.seen[1][-1]["content"] == "Observation:\n7006652"


def test_tools_are_described_and_callable(scripted):
    model = scripted("Thought: ask.\n```python\nfinal_answer(capital('Peru'))\n```")
    agent = CodeAgent(model, tools=[capital])
    assert "def capital(country: str) -> str" in agent.system_prompt()
    trajectory = agent.run("Capital of Peru?")
    assert trajectory.final_answer == "Lima" and trajectory.steps[0].tool_calls == ["capital"]


def test_errors_become_tool_feedback_not_crashes(scripted):
    model = scripted(
        "Thought: oops.\n```python\nprint(undefined_name)\n```", "Thought: fixed.\n```python\nfinal_answer(3)\n```"
    )
    trajectory = CodeAgent(model).run("q")
    assert "NameError" in trajectory.steps[0].error
    feedback = trajectory.messages[3]["content"]
    assert feedback.startswith("Observation:") and "Execution failed: NameError" in feedback
    assert trajectory.final_answer == 3


def test_reply_without_code_is_continued_with_an_open_fence(scripted):
    model = scripted("Thought: Namibia uses the Namibian dollar.", 'final_answer("NAD")\n```')
    trajectory = CodeAgent(model).run("Currency of Namibia?")
    assert trajectory.final_answer == "NAD" and len(trajectory.steps) == 1
    continued = model.seen[1][-1]
    assert continued["role"] == "assistant" and continued["content"].endswith("dollar.\n```python\n")


def test_prose_answer_after_an_observation_is_extracted(scripted):
    model = scripted("Thought: look.\n```python\nprint(6 * 7)\n```", "The final answer is 42.")
    trajectory = CodeAgent(model).run("q")
    assert trajectory.final_answer == "42" and trajectory.termination == "extracted"


def test_max_steps_falls_back_to_a_direct_answer(scripted):
    model = scripted(*["Thought: again.\n```python\nprint('still working')\n```"] * 2, "Paris")
    trajectory = CodeAgent(model, max_steps=2).run("Capital of France?")
    assert trajectory.termination == "max_steps" and trajectory.final_answer == "Paris"
    assert len(trajectory.steps) == 2 and not trajectory.finished


def test_prefix_is_continued_on_the_first_step_only(scripted):
    model = scripted(" then print it.\n```python\nprint(2)\n```", "Thought: ok\n```python\nfinal_answer(2)\n```")
    trajectory = CodeAgent(model).run("q", prefix="Thought: I will add 1 and 1")
    assert model.seen[0][-1] == {"role": "assistant", "content": "Thought: I will add 1 and 1"}
    assert model.seen[1][-1]["role"] == "user"
    assert trajectory.steps[0].thought == "I will add 1 and 1 then print it."
    assert trajectory.metadata["prefix"] == "Thought: I will add 1 and 1"


def test_a_seeded_agent_draws_each_call_with_its_own_seed(scripted):
    """One seed for every call made every task of a best-of-k round draw the same random numbers (family
    best-of-8: two lucky rounds solved 17 and 14 tasks, the other six 1 to 7): each call mixes in its question
    and step, the same question repeats its seeds, and an unseeded agent leaves the seed to the backend."""
    two_steps = ["Thought: a.\n```python\nprint(1)\n```", "Thought: b.\n```python\nfinal_answer(1)\n```"]
    model = scripted(*two_steps * 3)
    agent = CodeAgent(model, sampling=SamplingParams(temperature=0.7, seed=3))
    for question in ("task one", "task two", "task one"):
        agent.run(question)
    seeds = [p.seed for p in model.params]
    assert len(set(seeds[:4])) == 4 and seeds[4:] == seeds[:2]
    closed = ClosedBookAgent(scripted("1", "2"), sampling=SamplingParams(temperature=0.7, seed=3))
    closed.run("task one"), closed.run("task two")
    assert len({p.seed for p in closed.model.params}) == 2
    unseeded = scripted(*two_steps)
    CodeAgent(unseeded, sampling=SamplingParams(temperature=0.7)).run("task one")
    assert [p.seed for p in unseeded.params] == [None, None]


def test_stream_yields_steps_then_trajectory(scripted):
    model = scripted("Thought: a\n```python\nprint(1)\n```", "Thought: b\n```python\nfinal_answer(1)\n```")
    items = list(CodeAgent(model).stream("q"))
    assert [type(i) for i in items] == [ActionStep, ActionStep, Trajectory]
    restored = Trajectory.model_validate_json(items[-1].model_dump_json())
    assert restored.steps[1].is_final and restored.final_answer == 1


def test_short_prompt_has_no_examples(scripted):
    full, short = CodeAgent(scripted()).system_prompt(), CodeAgent(scripted(), prompt_style="short").system_prompt()
    assert "Solved examples" in full and "Solved examples" not in short and len(short) < 0.6 * len(full)
    assert "retrieve(" not in full  # the retrieval example appears only when the tool exists


@pytest.mark.parametrize(("style", "rule"), [("plan", "one Python line per quantity"), ("exact", "as it stands")])
def test_prompt_variants_are_the_few_shot_prompt_plus_one_rule_and_its_example(scripted, style, rule):
    full = CodeAgent(scripted()).system_prompt()
    variant = CodeAgent(scripted(), prompt_style=style).system_prompt()
    assert rule in variant and rule not in full
    # the shared examples are kept, and the variant's own worked example comes last, before the real task
    assert "Solved examples" in variant and variant.count("Task:") == full.count("Task:") + 1


def test_the_nocopy_prompt_holds_no_number_another_task_could_answer_with(scripted):
    """The examples the prompted 0.5B copied (the ZnSe band gaps, the date example's 841) are in `full` and not in
    `nocopy`, which keeps every example task and the two-step flow (print to decide, then final_answer)."""
    from agentdistill.agents.code_agent import system_prompt
    from agentdistill.tools import Tool

    def stand_in(query: str) -> str:
        """A stand-in: the prompt reads only a tool's name and description."""
        return query

    tools = [Tool(stand_in, name=name) for name in ("retrieve", "search_materials", "get_properties")]
    full, nocopy = system_prompt("full", tools), system_prompt("nocopy", tools)
    for copied in ("1.2004", "1.1663", "841", "1316.6", "1.5635"):
        assert copied in full and copied not in nocopy
    assert full.count("Task:") == nocopy.count("Task:") == 3 and "Observation:" in nocopy


@pytest.mark.model
def test_real_small_model_computes_in_the_sandbox(qwen05):
    trajectory = CodeAgent(qwen05, max_steps=3, max_new_tokens=96).run("What is 1234 * 5678?")
    assert str(trajectory.final_answer).replace(",", "") == "7006652"
    assert any(step.code and "1234" in step.code for step in trajectory.steps)


@pytest.mark.parametrize(
    ("sag", "max_steps", "ends_in"),
    [(1, 5, "think"), (2, 5, "think"), (1, 1, "finalize")],
)
def test_a_conversation_that_outgrows_the_context_ends_the_episode_not_the_run(sag, max_steps, ends_in):
    """A server refuses a prompt longer than its context (long observations over many steps): the episode ends
    with its steps kept and `context_overflow`, where the refusal used to propagate and stop a whole evaluation."""
    from conftest import ShortContextModel

    # 3 messages fit: the first step's prompt (system, task); the next call, a step or the fallback, does not
    model = ShortContextModel(model_id="short", outputs=["Thought: look.\n```python\nprint(6 * 7)\n```"] * sag)
    trajectory = CodeAgent(model, max_steps=max_steps, sag=sag, sampling=SamplingParams(temperature=0.7)).run("6*7?")
    assert trajectory.termination == "context_overflow" and trajectory.final_answer is None
    assert [s.observation for s in trajectory.steps] == ["42"] and not trajectory.finished
    assert len(model.calls) == 1 and len(model.refused) == 1  # the second call was refused, and nothing after it
    refused_after = model.refused[0][-1]["content"]  # the next step's prompt ends with the observation
    assert refused_after.startswith("Observation:") == (ends_in == "think")
