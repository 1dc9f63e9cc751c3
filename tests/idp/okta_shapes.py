"""Check a JSON answer against the model Okta's SDK generates from Okta's OpenAPI description.

The SDK's ``from_dict`` validates the fields it knows (types, enums, required ones) but silently
drops any other key, and nearly every field of a read-only object is optional there. So
:func:`shape_problems` also walks the model tree and reports every key the model does not
declare (models with ``additional_properties``, such as a user's profile, accept any), and
:func:`missing` names the fields Okta always sends that okta_security reads.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


def shape_problems(model: type[BaseModel], value: Any, where: str = "$") -> list[str]:
    """Return every way ``value`` is not an instance of Okta's ``model`` (empty: it is one)."""
    try:
        model.from_dict(value)  # type: ignore[attr-defined]  # every generated model has it
    except (ValidationError, ValueError, TypeError) as e:
        return [f"{where}: {type(e).__name__}: {e}"]
    return _unknown_keys(model, value, where)


def missing(value: dict[str, Any], *paths: str) -> list[str]:
    """Return the dotted ``paths`` absent (or null) in ``value``."""
    absent = []
    for path in paths:
        node: Any = value
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            absent.append(path)
    return absent


def _unknown_keys(model: type[BaseModel], value: Any, where: str) -> list[str]:
    fields = model.model_fields
    if "actual_instance" in fields:  # an anyOf/oneOf wrapper: check the schema that matched
        matched = model.from_dict(value).actual_instance  # type: ignore[attr-defined]
        return _unknown_keys(type(matched), value, where) if isinstance(matched, BaseModel) else []
    if not isinstance(value, dict):
        return []
    declared = {field.alias or name: field.annotation for name, field in fields.items()}
    open_ended = "additional_properties" in fields
    problems = []
    for key, item in value.items():
        if key in declared:
            problems += _walk(declared[key], item, f"{where}.{key}")
        elif not open_ended:
            problems.append(f"{where}.{key}: not a field of Okta's {model.__name__}")
    return problems


def _walk(annotation: Any, value: Any, where: str) -> list[str]:
    origin, args = get_origin(annotation), get_args(annotation)
    if value is None:
        return []
    if origin is typing.Annotated:
        return _walk(args[0], value, where)
    if origin in (Union, types.UnionType):
        return next((_walk(arg, value, where) for arg in args if arg is not type(None)), [])
    if origin is list and isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _walk(args[0], item, f"{where}[{i}]")]
    if origin is dict and isinstance(value, dict):
        return [p for key, item in value.items() for p in _walk(args[1], item, f"{where}.{key}")]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return _unknown_keys(annotation, value, where)
    return []
