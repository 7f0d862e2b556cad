"""Why an episode failed, read off its record: the kinds (`pipeline/failures.py`) on scripted episodes, and the
counts that cut across them (answers taken from the prompt, failed tool calls)."""

import pytest

from agentdistill.pipeline.collect import Collector
from agentdistill.pipeline.collect_config import CollectConfig
from agentdistill.pipeline.failures import answers_from_prompt, failure_kind, hit_a_tool_error, used_a_tool
from agentdistill.tasks import Task
from conftest import GREEDY, ScriptedModel, ShortContextModel


def _record_answering(
    tmp_path,
    code_steps,
    question="A box holds 12 rows of 7 cans. How many cans are in 9 boxes?",
    tools=(),
    model_class=ScriptedModel,
):
    metadata = {"tools": list(tools)} if tools else {}
    task = Task(id="q-1", question=question, answers=["756"], metric="numeric", suite="math", metadata=metadata)
    outputs = [f"Thought: step.\n```python\n{code}\n```" for code in code_steps]
    model = model_class(model_id="s", outputs=outputs, seen=[], calls=[], params=[])
    config = CollectConfig.build(
        **GREEDY, suite="math", n=1, out=str(tmp_path / f"{len(list(tmp_path.iterdir()))}.jsonl")
    )
    collector = Collector(config, model=model)
    return collector.episode(task, 0)


@pytest.mark.parametrize(
    ("steps", "kind"),
    [
        (["print(12 * 7 * 9)", "final_answer(756)"], None),
        (["final_answer(700)"], "arithmetic in the head"),
        (["final_answer(841)"], "copied an example"),  # the answer of the prompt's solved example
        # the example's code run again (seen after an error: the 0.5B replays the prompt's first example)
        (
            ["from datetime import date\nprint((date(2001, 7, 2) - date(1999, 3, 14)).days)", "final_answer(841)"],
            "copied an example",
        ),
        (["print(12 * 7)", "final_answer(12 * 7)"], "dropped quantity"),
        (["print(12 + 7 + 9)", "final_answer(12 + 7 + 9)"], "wrong plan"),
        (["x = 1\nprint(x)"] * 5, "max steps"),
        (["final_answer = 12 * 7\nfinal_answer(final_answer)", "final_answer(84)"], "shadowed a tool"),
    ],
)
def test_failures_are_named_by_kind(tmp_path, steps, kind):
    assert failure_kind(_record_answering(tmp_path, steps)) == kind


def test_an_answer_from_the_prompt_counts_whatever_the_kind(tmp_path):
    # the 0.5B pattern: the example's code rerun until out of steps, then its number as the fallback answer
    copied_then_stuck = _record_answering(tmp_path, ["print(841)"] * 5 + ["final_answer(841)"])
    assert failure_kind(copied_then_stuck) == "max steps"
    assert answers_from_prompt(copied_then_stuck)
    assert answers_from_prompt(_record_answering(tmp_path, ["final_answer(841)"]))
    assert not answers_from_prompt(_record_answering(tmp_path, ["final_answer(700)"]))
    assert not answers_from_prompt(_record_answering(tmp_path, ["print(12 * 7 * 9)", "final_answer(756)"]))


def test_a_failed_tool_call_is_counted_whatever_the_kind(tmp_path):
    failed_call = _record_answering(tmp_path, ["retrieve(query=12)", "final_answer(700)"], tools=["retrieve"])
    assert "ToolError" in failed_call.trajectory.steps[0].error
    assert hit_a_tool_error(failed_call) and failure_kind(failed_call) == "arithmetic in the head"
    python_error = _record_answering(tmp_path, ["print(1 / 0)", "final_answer(700)"], tools=["retrieve"])
    assert not hit_a_tool_error(python_error)


def test_an_episode_that_recalls_instead_of_retrieving_did_not_use_its_tool(tmp_path):
    """The prefix-distilled student's facts failure: the first thought states an answer and the code prints it."""
    recalled = _record_answering(tmp_path, ['print("Saipan")', 'final_answer("Saipan")'], tools=["retrieve"])
    assert used_a_tool(recalled) is False
    retrieved = _record_answering(
        tmp_path, ['print(retrieve("Guam capital", k=1))', "final_answer(1)"], tools=["retrieve"]
    )
    assert used_a_tool(retrieved) is True
    assert used_a_tool(_record_answering(tmp_path, ["final_answer(756)"])) is None  # given no tools


def test_a_reply_without_code_is_a_parse_error(tmp_path):
    task = Task(id="q-2", question="What is 2 + 2?", answers=["4"], metric="numeric", suite="math")
    model = ScriptedModel(model_id="s", outputs=["I think it is 5."] * 6, seen=[], calls=[], params=[])
    record = Collector(
        CollectConfig.build(**GREEDY, suite="math", n=1, out=str(tmp_path / "p.jsonl")), model=model
    ).episode(task, 0)
    assert failure_kind(record) == "parse error"


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("12 \\times 7 = 84 cans a box, 84 \\times 9 = 756. The answer is \\boxed{756}.", None),
        ("12 \\times 7 = 84 cans a box, 84 \\times 9 = 746. The answer is \\boxed{746}.", "arithmetic in the head"),
        ("12 \\times 7 = 84 cans, and 9 boxes hold 2 + 3 + 4 = 9 rows. The answer is \\boxed{84}.", "dropped quantity"),
        ("Each box holds 12 + 7 = 19 cans, 19 \\times 9 = 171. The answer is \\boxed{171}.", "wrong plan"),
        ("I cannot tell how many cans there are.", "parse error"),
    ],
)
def test_a_closed_book_reply_is_read_on_its_text(tmp_path, reply, kind):
    """No code ran in a chain of thought: a wrong answer is not a parse error (a reply with no number is), and a
    false equation in the reasoning is arithmetic in the head (a chained `2 + 3 + 4 = 9` is not `3 + 4 = 9`)."""
    question = "A box holds 12 rows of 7 cans. How many cans are in 9 boxes?"
    task = Task(id="q-3", question=question, answers=["756"], metric="numeric", suite="math")
    model = ScriptedModel(model_id="s", outputs=[reply], seen=[], calls=[], params=[])
    config = CollectConfig.build(
        **GREEDY, suite="math", n=1, closed_book=True, reasoning=True, out=str(tmp_path / "c.jsonl")
    )
    assert failure_kind(Collector(config, model=model).episode(task, 0)) == kind


def test_an_episode_that_outgrew_the_context_is_kept_and_named(tmp_path):
    record = _record_answering(tmp_path, ["print(12 * 7)", "final_answer(756)"], model_class=ShortContextModel)
    assert record.trajectory.termination == "context_overflow" and len(record.trajectory.steps) == 1
    assert failure_kind(record) == "context overflow"
