"""The schema is consistent: every default has its field's type and lies in its range."""

from __future__ import annotations

from ssl_core.params import type_matches
from ssl_core.schema import RANGES, SCHEMA, Component, ComponentList, Field


def fields(node, path=()):
    for key, spec in node.items():
        if isinstance(spec, dict):
            yield from fields(spec, path + (key,))
        else:
            yield path + (key,), spec


def test_every_default_has_its_fields_type():
    checked = 0
    for path, spec in fields(SCHEMA):
        if isinstance(spec, Field) and not spec.required:
            types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
            assert any(type_matches(spec.default, t) for t in types), path
            checked += 1
        else:
            assert isinstance(spec, (Field, Component, ComponentList)), path
    assert checked > 30


def test_every_range_names_a_numeric_field_whose_default_it_admits():
    leaves = dict(fields(SCHEMA))
    for path, (low, high) in RANGES.items():
        spec = leaves[path]
        optional = spec.type == (int, type(None))
        assert spec.type in (int, float) or optional, path
        if spec.default is None:  # null: the device's default (eval_options.num_workers), which check_ranges skips
            assert optional and path == ("eval_options", "num_workers"), path
        else:
            assert low <= spec.default <= high, path
