from agentdistill.agents.parsing import extract_prose_answer, parse_step


def test_thought_and_fenced_code():
    step = parse_step("Thought: add them.\n```python\nprint(1 + 2)\n```")
    assert step.thought == "add them."
    assert step.code == "print(1 + 2)"
    assert step.kept_text == "Thought: add them.\n```python\nprint(1 + 2)\n```"


def test_unclosed_final_fence_is_accepted():
    step = parse_step("Thought: x\n```python\nx = 3\nprint(x)")
    assert step.code == "x = 3\nprint(x)"
    assert step.kept_text.endswith("print(x)\n```")


def test_only_first_block_is_kept_and_hallucinated_observation_dropped():
    text = "Thought: a\n```py\nprint(1)\n```\nObservation: 1\nThought: b\n```python\nprint(2)\n```"
    step = parse_step(text)
    assert step.code == "print(1)"
    assert "Observation" not in step.kept_text and "print(2)" not in step.kept_text


def test_bare_final_answer_line():
    step = parse_step("Thought: the result is known.\nfinal_answer(42)")
    assert step.code == "final_answer(42)"
    assert step.thought == "the result is known."


def test_plain_code_without_fences():
    assert parse_step("result = 1234 * 5678\nprint(result)").code == "result = 1234 * 5678\nprint(result)"


def test_prose_has_no_code():
    step = parse_step("Thought: Namibia uses the Namibian dollar.")
    assert step.code is None
    assert step.thought == "Namibia uses the Namibian dollar."


def test_extract_prose_answer():
    assert extract_prose_answer("So the final answer is: 7006652.") == "7006652"
    assert extract_prose_answer("The answer is **NAD**.") == "NAD"
    assert extract_prose_answer("We get \\boxed{12} apples") == "12"
    assert extract_prose_answer("The final answer is 42.") == "42"
    assert extract_prose_answer("I will look it up.") is None
    assert extract_prose_answer("To answer this, I search.") is None
