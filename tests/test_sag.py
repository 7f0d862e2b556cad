"""Self-consistent action generation: isolation of candidates, the vote, and the record of it."""

import pytest

from agentdistill.agents import CodeAgent
from agentdistill.agents.sag import answer_key
from agentdistill.llm import SamplingParams
from agentdistill.tools.base import tool
from agentdistill.tools.branching import BranchingSandbox


def code(src: str) -> str:
    return f"Thought: try.\n```python\n{src}\n```"


def test_answer_key_groups_equal_answers():
    assert answer_key(42) == answer_key("42.0") == answer_key(" 42 ") == answer_key("42")
    assert answer_key("Paris") == answer_key("paris ")
    assert answer_key("1,234") == answer_key(1234)
    assert answer_key("A") != answer_key("B")


def test_final_answer_votes_beat_a_more_probable_lone_candidate(scripted):
    model = scripted(
        (code("final_answer('A')"), -0.1), (code("final_answer('B')"), -0.5), (code("final_answer('b ')"), -0.9)
    )
    trajectory = CodeAgent(model, sag=3).run("Pick one.")
    assert trajectory.final_answer == "B"
    assert model.calls == [(1, 3)]  # one batched call for all three candidates
    step = trajectory.steps[0]
    assert [c.votes for c in step.candidates] == [1, 2, 2]
    assert [c.chosen for c in step.candidates] == [False, True, False]


def test_candidates_are_isolated_and_only_the_winner_is_committed(scripted):
    model = scripted(
        (code("y = [1]\nprint('same')"), -0.4),
        (code("y = [2]\nprint('same')"), -0.2),  # same output as the first, more probable: commits y = [2]
        (code("y = [3]\nraise ValueError('broken')"), -0.01),  # raised: dropped despite the best log-prob
        ("Thought: no code here at all.", -0.05),  # unparseable: dropped
        (code("y.append(9)\nfinal_answer(y)"), -0.3),
        (code("final_answer(y)"), -0.2),
        (code("final_answer(y)"), -0.5),
        (code("final_answer(y)"), -0.6),
    )
    trajectory = CodeAgent(model, sag=4).run("Build a list.")
    first = trajectory.steps[0]
    assert [c.chosen for c in first.candidates] == [False, True, False, False]
    assert first.candidates[2].error and first.candidates[2].vote_key is None
    assert first.candidates[3].code is None and first.candidates[3].vote_key is None
    # the appended 9 lived only in the first candidate's copy: the three others agree on [2]
    assert trajectory.final_answer == [2]
    assert trajectory.steps[1].candidates[0].final_answer == [2, 9]


def test_tied_groups_go_to_the_most_probable(scripted):
    model = scripted((code("final_answer(1)"), -0.7), (code("final_answer(2)"), -0.3))
    assert CodeAgent(model, sag=2).run("Tie.").final_answer == 2


def test_tools_run_once_per_real_call_not_per_candidate_per_step():
    calls = []

    @tool
    def fetch(key: str) -> str:
        """Fetch a value."""
        calls.append(key)
        return key * 2

    box = BranchingSandbox(tools=[fetch])
    box.run("a = fetch('x')")
    branches = box.try_each(["print(a)", "print(a + fetch('y'))", "print(len(a))"])
    assert [b.result.output for b in branches] == ["xx\n", "xxyy\n", "2\n"]
    assert calls == ["x", "y"]  # the replay of step 1 in three copies answered from the log
    box.commit(branches[1])
    assert box.run("print(a)").output == "xx\n"
    assert calls == ["x", "y"]


def test_sag_needs_sampling(scripted):
    with pytest.raises(ValueError, match="temperature"):
        CodeAgent(scripted(), sag=4, sampling=SamplingParams(temperature=0))


@pytest.mark.model
def test_real_model_samples_all_candidates_in_one_call(smollm):
    agent = CodeAgent(smollm, sag=3, max_steps=1, max_new_tokens=24)
    trajectory = agent.run("What is 2 + 2?")
    assert len(trajectory.steps[0].candidates) == 3
    assert all(c.mean_logprob is not None for c in trajectory.steps[0].candidates)


def test_printed_values_back_the_same_final_answer_and_the_episode_ends(scripted):
    # two candidates print 139.4, one calls final_answer(139.4): one value with three votes; finishing wins
    model = scripted(
        (code("print(139.4)"), -0.1),
        (code("print(round(139.40, 1))"), -0.2),
        (code("final_answer(139.4)"), -0.9),
        (code("print(41)"), -0.05),
    )
    trajectory = CodeAgent(model, sag=4).run("Compute.")
    assert trajectory.termination == "final_answer" and trajectory.final_answer == 139.4
    assert len(trajectory.steps) == 1 and trajectory.steps[0].candidates[2].votes == 3


def test_silent_candidates_abstain(scripted):
    model = scripted(
        (code("x = 1"), -0.1),
        (code("y = 2"), -0.2),
        (code("print(7)"), -0.8),
        (code("final_answer(7)"), -0.5),
        (code("final_answer(8)"), -0.1),
    )
    trajectory = CodeAgent(model, sag=3).run("Seven?")
    first = trajectory.steps[0]
    assert [c.vote_key for c in first.candidates] == [None, None, "answer:7"] and first.candidates[2].chosen


def test_replays_are_deterministic_so_no_tool_runs_twice():
    calls = []

    @tool
    def fetch(key: str) -> str:
        """Fetch a value."""
        calls.append(key)
        return key.upper()

    box = BranchingSandbox(tools=[fetch])
    committed = box.run(
        "import random, time\nk = random.choice('abcdefghij')\nnames = list({'alpha', 'beta', 'gamma'})\n"
        "v = fetch(k + names[0])\nt = time.time()\nprint(t)"
    )
    branches = box.try_each(["print(v, t, names)"] * 4)
    assert len({b.result.output for b in branches}) == 1  # every copy rebuilt the same state ...
    replayed_t = float(branches[0].result.output.split()[1])
    assert replayed_t == committed.clock and abs(replayed_t - float(committed.output)) < 0.5  # its start time
    assert len(calls) == 1  # and the replays called the same tool with the same arguments, answered from the log


def test_a_replay_that_diverges_is_refused_and_runs_no_tool():
    calls = []

    @tool
    def fetch(key: str) -> str:
        """Fetch a value."""
        calls.append(key)
        return key

    box = BranchingSandbox(tools=[fetch])
    box.run("import os\nv = fetch(os.urandom(4).hex())")  # differs in every run, whatever the seed
    branches = box.try_each(["print(v)", "print(len(v))"])
    assert len(calls) == 1
    for branch in branches:
        assert branch.result.error.startswith("ReplayDiverged") and "no tool ran twice" in branch.result.error
