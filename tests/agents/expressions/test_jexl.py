"""The JEXL subset gives the results iotagent-node-lib documents (doc/api.md, "Examples of JEXL
expressions" and "Expressions with multiple transformations"), safely bounded."""

from __future__ import annotations

import math

import pytest

from agents.expressions.evaluator import EvaluationError, Limits, check_syntax, evaluate
from agents.expressions.jsvalues import UNDEFINED

CONTEXT = {
    "value": 6,
    "ts": 1637245214901,
    "name": "DevId629",
    "object": {"name": "John", "surname": "Doe"},
    "array": [1, 3],
    "variable": "hello world",
    "location": "40.4165, -3.70256",
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("5 * value", 30),
        ("(6 + value) * 3", 36),
        ("value / 12 + 1", 1.5),
        ("(5 + 2) * (value + 7)", 91),
        ('"Pruebas " + "De Strings"', "Pruebas De Strings"),
        ('name + "value is " +value', "DevId629value is 6"),
        ("{coordinates: [value,value], type: 'Point'}", {"coordinates": [6, 6], "type": "Point"}),
        ("ts|toisodate", "2021-11-18T14:20:14.901Z"),
        ('" a "| trim', "a"),
        ("name|length", 8),
        ('name|indexOf("e")', 1),
        ('name|substr(0,name|indexOf("e")+1)', "De"),
        ("variable | trim | replacestr('hello','hi')", "hi world"),
        ("location | split(', ')[1] | parsefloat()", -3.70256),
        ("value | mapper([1, 6], ['low', 'six'])", "six"),
        ("value | thmapper([5, 10], ['low', 'mid'])", "mid"),
        ("2.5 | round", 3),
        ("value > 5 ? 'high' : 'low'", "high"),
        ("object.surname + array[0]", "Doe1"),
        ("value in array", False),
        ("'12.5 cm' | parsefloat", 12.5),
        ("value // 4", 1),
        ("value % 4", 2),
        ("2 ^ 10", 1024),
        ("!value || array", [1, 3]),
    ],
)
def test_documented_expressions_give_the_documented_results(expression: str, expected: object) -> None:
    assert evaluate(expression, CONTEXT) == expected


def test_missing_measures_give_no_value() -> None:
    assert math.isnan(evaluate("nothing * 2", CONTEXT))
    assert evaluate("nothing | parsefloat", CONTEXT) is UNDEFINED


@pytest.mark.parametrize(
    "expression", ["value *", "a ? b", "f(", "__import__('os')", "'unterminated", "a | nosuch"]
)
def test_bad_expressions_are_refused_before_they_run(expression: str) -> None:
    with pytest.raises(EvaluationError):
        check_syntax(expression)


def test_evaluation_is_bounded_in_steps_size_and_length() -> None:
    with pytest.raises(EvaluationError, match="step budget"):
        evaluate(" + ".join(["value"] * 200), CONTEXT, Limits(max_steps=100))
    with pytest.raises(EvaluationError, match="grew beyond"):
        evaluate("name + name + name", CONTEXT, Limits(max_size=10))
    with pytest.raises(EvaluationError, match="longer than"):
        evaluate("value" + " + value" * 10, CONTEXT, Limits(max_length=20))
    with pytest.raises(EvaluationError, match="nested too deeply"):
        evaluate("(" * 100 + "1" + ")" * 100, CONTEXT)
