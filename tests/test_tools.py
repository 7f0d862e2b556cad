import pytest

from agentdistill.tools import Tool, ToolInputError, tool


@tool
def scale(value: float, factor: int = 2) -> float:
    """Multiply value by factor."""
    return value * factor


def test_tool_validates_and_coerces_arguments():
    assert isinstance(scale, Tool)
    assert scale(1.5) == 3.0
    assert scale("2", factor="3") == 6.0  # pydantic coercion of model-written strings


def test_tool_rejects_bad_arguments_with_readable_message():
    with pytest.raises(ToolInputError, match="value"):
        scale("lots")
    with pytest.raises(ToolInputError, match="unexpected keyword"):
        scale(1.0, size=3)


def test_describe_shows_signature_and_docstring():
    text = scale.describe()
    assert "def scale(value: float, factor: int = 2) -> float" in text
    assert "Multiply value by factor." in text


def test_tool_needs_a_description():
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="docstring"):
        tool(undocumented)
    assert tool(name="named", description="d")(undocumented).name == "named"
