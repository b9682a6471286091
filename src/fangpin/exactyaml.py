"""YAML and JSON read so that a number keeps the exact value it was written with (Decimal, never float)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import yaml


class _ExactLoader(yaml.SafeLoader):
    pass


def _exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


def _date_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    """Dates stay text for the model to parse, so an impossible date is reported against its field."""
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)
_ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_text)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_ExactLoader)


def load_json(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)
