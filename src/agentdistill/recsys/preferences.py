"""Structured preferences: hard constraints and soft phrases, validated against a catalogue, and the memory
that consolidates them turn by turn (a new command refines, overrides or removes what came before)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentdistill.recsys.catalog import Catalog, Item

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "between"]
_FAMILY = {
    "==": "eq",
    "in": "eq",
    "<": "upper",
    "<=": "upper",
    ">": "lower",
    ">=": "lower",
    "between": "range",
    "!=": "neq",
    "not_in": "neq",
}
_NUMERIC_OPS = {"==", "!=", "<", "<=", ">", ">=", "between"}
_SET_OPS = {"==", "!=", "in", "not_in"}


class Constraint(BaseModel):
    """A hard filter, e.g. price < 200, genre != Horror, year between [1990, 1999]."""

    model_config = ConfigDict(extra="forbid")  # a key the model invents is an error, not ignored

    attribute: str
    op: Operator
    value: str | float | list[str] | list[float]

    def label(self) -> str:
        value = (
            " to ".join(f"{v:g}" for v in self.value)
            if self.op == "between" and isinstance(self.value, list)
            else ", ".join(map(str, self.value))
            if isinstance(self.value, list)
            else (f"{self.value:g}" if isinstance(self.value, float) else self.value)
        )
        return f"{self.attribute} {self.op} {value}"

    def holds(self, item: Item) -> bool:
        have = item.attributes.get(self.attribute)
        if have is None:
            return self.op in ("!=", "not_in")
        values = self.value if isinstance(self.value, list) else [self.value]
        if isinstance(have, list):  # multi-valued: == / in mean "has one of", != / not_in "has none of"
            hit = bool({str(v).lower() for v in values} & {h.lower() for h in have})
            return hit if self.op in ("==", "in") else not hit
        if isinstance(have, float):
            low_high = [float(v) for v in values]
            x = have
            return {
                "==": x == low_high[0],
                "!=": x != low_high[0],
                "<": x < low_high[0],
                "<=": x <= low_high[0],
                ">": x > low_high[0],
                ">=": x >= low_high[0],
                "between": len(low_high) == 2 and low_high[0] <= x <= low_high[1],
            }[self.op]
        hit = str(have).lower() in {str(v).lower() for v in values}
        return hit if self.op in ("==", "in") else not hit


class SoftPreference(BaseModel):
    """A phrase to favour (positive) or to avoid (negative), matched semantically."""

    model_config = ConfigDict(extra="forbid")  # a key the model invents is an error, not ignored

    text: str = Field(min_length=1, max_length=200)
    positive: bool = True


class Preferences(BaseModel):
    """What the user wants so far: the parser's memory across turns."""

    constraints: list[Constraint] = Field(default_factory=list)
    soft: list[SoftPreference] = Field(default_factory=list)

    def matches(self, item: Item) -> bool:
        return all(c.holds(item) for c in self.constraints)


class PreferenceUpdate(BaseModel):
    """What one command changes; the parser model writes exactly this as JSON."""

    model_config = ConfigDict(extra="forbid")  # a key the model invents is an error, not ignored

    add_constraints: list[Constraint] = Field(default_factory=list)
    remove_constraints: list[str] = Field(default_factory=list, description="Attributes whose constraints to drop.")
    add_soft: list[SoftPreference] = Field(default_factory=list)
    remove_soft: list[str] = Field(default_factory=list, description="Soft phrases to drop.")
    reset: bool = False


def update_schema(catalog: Catalog) -> dict[str, Any]:
    """`PreferenceUpdate`'s JSON schema narrowed to `catalog`, for constrained decoding: a constraint names a real
    attribute, with the operators of its kind and, for a categorical one, only its real values (a single value
    for ==/!=, a list for in/not_in; a number, or [low, high] for between). What a schema cannot say (a value
    range, contradictions) is left to `validate_update` and the repair round."""
    options: list[dict[str, Any]] = []
    for a in catalog.schema_:
        if a.kind == "numeric":
            number_value = {"type": "number"}
            options.append(_constraint_schema(a.name, sorted(_NUMERIC_OPS - {"between"}), number_value))
            options.append(_constraint_schema(a.name, ["between"], _array(number_value, 2, 2)))
        else:
            value = {"enum": list(a.values)}
            options.append(_constraint_schema(a.name, ["==", "!="], value))
            options.append(_constraint_schema(a.name, ["in", "not_in"], _array(value, 1, len(a.values))))
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    soft = {
        "type": "object",
        "properties": {"text": text, "positive": {"type": "boolean"}},
        "required": ["text"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "add_constraints": _array({"anyOf": options}, 0, 8),
            "remove_constraints": _array({"enum": [a.name for a in catalog.schema_]}, 0, len(catalog.schema_)),
            "add_soft": _array(soft, 0, 5),
            "remove_soft": _array(text, 0, 5),
            "reset": {"type": "boolean"},
        },
        "additionalProperties": False,
    }


def _constraint_schema(attribute: str, ops: list[str], value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"attribute": {"const": attribute}, "op": {"enum": ops}, "value": value},
        "required": ["attribute", "op", "value"],
        "additionalProperties": False,
    }


def _array(items: dict[str, Any], least: int, most: int) -> dict[str, Any]:
    return {"type": "array", "items": items, "minItems": least, "maxItems": max(least, most)}


def validate_update(update: PreferenceUpdate, catalog: Catalog) -> PreferenceUpdate:
    """Check attributes, operators and values against the catalogue; values are normalised (case, numbers).
    Raises ValueError with a message written for the model to fix its output."""
    schema = catalog.attributes
    fixed = []
    for c in update.add_constraints:
        spec = schema.get(c.attribute)
        if spec is None:
            raise ValueError(f"unknown attribute {c.attribute!r}; attributes: {', '.join(schema)}")
        values = c.value if isinstance(c.value, list) else [c.value]
        if spec.kind == "numeric":
            if c.op not in _NUMERIC_OPS:
                raise ValueError(f"{c.attribute} is numeric: use one of {', '.join(sorted(_NUMERIC_OPS))}")
            try:
                numbers = [float(v) for v in values]
            except (TypeError, ValueError):
                raise ValueError(f"{c.attribute} needs numbers, got {c.value!r}") from None
            if (c.op == "between") != (len(numbers) == 2):
                raise ValueError("between takes [low, high]; the other operators one number")
            fixed.append(c.model_copy(update={"value": numbers if c.op == "between" else numbers[0]}))
            continue
        if c.op not in _SET_OPS:
            raise ValueError(f"{c.attribute} takes ==, !=, in, not_in (it is not numeric)")
        known = {v.lower(): v for v in spec.values}
        unknown = [str(v) for v in values if str(v).lower() not in known]
        if unknown:
            raise ValueError(
                f"{c.attribute} has no value {', '.join(map(repr, unknown))}; values: {', '.join(spec.values)}"
            )
        canonical = [known[str(v).lower()] for v in values]
        fixed.append(c.model_copy(update={"value": canonical if c.op in ("in", "not_in") else canonical[0]}))
    unknown_removals = [a for a in update.remove_constraints if a not in schema]
    if unknown_removals:
        raise ValueError(
            f"remove_constraints names unknown attributes {unknown_removals}; attributes: {', '.join(schema)}"
        )
    return update.model_copy(update={"add_constraints": fixed})


def consolidate(memory: Preferences, update: PreferenceUpdate) -> Preferences:
    """Memory after `update`: removals first, then additions; a new constraint overrides older ones of its kind
    on the same attribute (a new upper bound replaces the old one, a new == replaces ==/in), exclusions accumulate,
    and a value now wanted is no longer excluded (and vice versa)."""
    constraints = (
        [] if update.reset else [c for c in memory.constraints if c.attribute not in update.remove_constraints]
    )
    soft = (
        []
        if update.reset
        else [s for s in memory.soft if s.text.lower() not in {t.lower() for t in update.remove_soft}]
    )
    for new in update.add_constraints:
        constraints = [*(c for c in constraints if not _superseded(c, new)), new]
    for phrase in update.add_soft:
        soft = [s for s in soft if s.text.lower() != phrase.text.lower()] + [phrase]
    return Preferences(constraints=constraints, soft=soft)


def _values(constraint: Constraint) -> set[str]:
    value = constraint.value
    return {str(v).lower() for v in (value if isinstance(value, list) else [value])}


def _superseded(old: Constraint, new: Constraint) -> bool:
    """Whether `new` replaces the remembered `old` (same attribute, and a wish it overrides or repeats)."""
    if old.attribute != new.attribute:
        return False
    family, old_family = _FAMILY[new.op], _FAMILY[old.op]
    if family == "neq":  # excluding a value drops an earlier wish for it, and repeats
        return (old_family == "eq" and _values(old) <= _values(new)) or old == new
    if family == "range" or old_family == "range":
        return old_family in ("upper", "lower", "range") and family in ("upper", "lower", "range")
    if family == "eq" and old_family == "neq":
        return bool(_values(old) & _values(new))
    return old_family == family
