# zero_shot.py: a complete iqabench protocol plugin (score methods, nothing fitted)
from dataclasses import dataclass

import numpy as np

from iqabench import Protocol, register_protocol
from iqabench.errors import IQABenchError
from iqabench.metrics import correlations, orient
from iqabench.results import Result, table_record
from iqabench.summary import Summary


@dataclass
class ZeroShotSummary(Summary):  # what result.json records under "summary", typed
    srcc: float | None = None
    plcc: float | None = None


@register_protocol("zero_shot")
class ZeroShot(Protocol):
    description = "Score methods as they are: SRCC/PLCC with the labels over every image, nothing fitted"

    def run(self, ctx):
        results = []
        for dataset in ctx.datasets:
            for method in ctx.methods:
                if method.kind != "scores":
                    raise IQABenchError(f"protocol 'zero_shot' takes score methods; {method.name!r} gives features")
                data = ctx.labelled(method, dataset)  # its features (cached), joined with the labels
                pos, score = data.predict(lambda rows: rows[:, 0], np.arange(data.table.n_images))
                m = correlations(orient(score, method.higher_better), data.oriented_labels(pos))
                summary = ZeroShotSummary(srcc=m["srcc"], plcc=m["plcc"], headline=f"SRCC {m['srcc']:.4f}")
                results.append(Result(self.name, self.config(), [method.identity()], [dataset.card()], summary,
                                      images=table_record(len(dataset.index()), data.table)))
        return results
