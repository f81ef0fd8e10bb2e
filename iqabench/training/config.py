"""Training configurations: YAML files, shipped as package data or given by the user.

``--config NAME`` reads ``iqabench/configs/<method>-<NAME>.yaml`` (``<method>.yaml`` for the
paper's, NAME ``paper``); ``--config FILE`` reads a user's file, merged over the method's paper
configuration so that it only needs the keys it changes. Unknown keys are errors (a typo must not
silently train the paper's setting). Overrides are dotted keys (``training.epochs=3``) whose
values are parsed as YAML scalars.
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import IQABenchError

PAPER = "paper"


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise IQABenchError(f"config {where}: invalid YAML ({first})") from exc
    if not isinstance(data, dict):
        raise IQABenchError(f"config {where}: expected a mapping at the top level")
    return data


def packaged_names(method: str) -> list[str]:
    files = resources.files("iqabench") / "configs"
    names = []
    for entry in files.iterdir():
        n = entry.name
        if n == f"{method}.yaml":
            names.append(PAPER)
        elif n.startswith(f"{method}-") and n.endswith(".yaml"):
            names.append(n[len(method) + 1 : -5])
    return sorted(names)


def _packaged_text(method: str, name: str) -> str | None:
    fname = f"{method}.yaml" if name == PAPER else f"{method}-{name}.yaml"
    entry = resources.files("iqabench") / "configs" / fname
    return entry.read_text() if entry.is_file() else None


def merge(base: dict[str, Any], update: dict[str, Any], where: str, path: str = "") -> dict[str, Any]:
    """``update`` over ``base``; keys must exist in ``base`` (nested mappings are merged)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        dotted = f"{path}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise IQABenchError(f"config {where}: unknown key {dotted!r} (known here: {known})")
        if isinstance(base[key], dict) and not isinstance(value, dict):
            raise IQABenchError(f"config {where}: {dotted!r} must be a mapping")
        if isinstance(base[key], dict):
            out[key] = merge(base[key], value, where, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(method: str, name_or_file: str | None = None) -> dict[str, Any]:
    """The resolved configuration: the paper's, a packaged one by name, or a user file over the paper's."""
    paper_text = _packaged_text(method, PAPER)
    if paper_text is None:
        raise IQABenchError(f"no packaged training configuration for {method!r}")
    base = _read_yaml(paper_text, f"{method}.yaml")
    choice = name_or_file or PAPER
    if choice == PAPER:
        return base
    text = _packaged_text(method, choice)
    where = f"{method}-{choice}.yaml"
    if text is None:
        p = Path(choice).expanduser()
        if not p.is_file():
            raise IQABenchError(
                f"--config {choice!r} is neither a packaged configuration ({', '.join(packaged_names(method))}) "
                "nor an existing YAML file"
            )
        data = _read_yaml(p.read_text(), str(p))
        data.setdefault("name", p.stem)  # a user file without its own name is named after the file
        return merge(base, data, str(p))
    return merge(base, _read_yaml(text, where), where)


def parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def set_key(cfg: dict[str, Any], dotted: str, value: Any, what: str = "override") -> None:
    """Set ``a.b.c`` in place; the key must exist."""
    parts = dotted.split(".")
    node = cfg
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            raise IQABenchError(f"{what} {dotted!r}: no such configuration key ({'.'.join(parts[: i + 1])})")
        if i == len(parts) - 1:
            if isinstance(node[part], dict):
                raise IQABenchError(f"{what} {dotted!r}: is a section, not a value")
            node[part] = value
        else:
            node = node[part]


def get_key(cfg: dict[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def config_hash(cfg: dict[str, Any], extra: str = "") -> str:
    """12 hex digits of the sha256 of the canonical JSON of the config (and ``extra``)."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str) + extra
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def dump_yaml(cfg: dict[str, Any]) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
