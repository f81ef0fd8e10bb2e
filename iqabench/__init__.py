"""iqabench: a benchmark and evaluation harness for no-reference image quality assessment.

Importing the package is cheap (no torch); the plugin API is resolved on first use::

    from iqabench import Method, Views, register_method
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> "module:attribute"; resolved lazily so that `iqabench --help` does not import torch.
_LAZY = {
    "Method": "iqabench.method:Method",
    "Views": "iqabench.views:Views",
    "Dataset": "iqabench.dataset:Dataset",
    "ScoreSpec": "iqabench.dataset:ScoreSpec",
    "Protocol": "iqabench.protocol:Protocol",
    "IQABenchError": "iqabench.errors:IQABenchError",
    "register_method": "iqabench.registry:register_method",
    "register_dataset": "iqabench.registry:register_dataset",
    "register_protocol": "iqabench.registry:register_protocol",
    "scorer": "iqabench.scoring:scorer",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'iqabench' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
