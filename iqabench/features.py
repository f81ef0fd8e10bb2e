"""The extraction loop: images → views → batched ``method.extract`` → a :class:`FeatureTable`.

Images are decoded (optionally in DataLoader workers), cut into the method's views, and the
views of many images are batched by (scale, size) so the method sees full batches. Each crop
position is one row: its features at every scale, concatenated in scale order.

A failing image (unreadable file, or an error / non-finite output of the method on it) stops the
extraction with a one-line error naming the file, or, with ``on_error="skip"``, is left out and
listed in :attr:`FeatureTable.failures` — never dropped silently. Images that are not 8-bit RGB
are converted as the reference loaders do (:mod:`iqabench.images`) and counted per original mode in
:attr:`FeatureTable.conversions`, including images served from the feature cache (mode read from
the file header).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

import numpy as np
import pandas as pd
import torch
from PIL import Image

from . import progress
from .errors import IQABenchError
from .images import RGB, decode_rgb, image_mode
from .method import Method
from .views import Views, make_views

log = logging.getLogger("iqabench")

ON_ERROR = ("raise", "skip")


@dataclass
class FeatureTable:
    image_ids: list[str]  # images that have rows, in index order
    rows: np.ndarray  # n_rows × D, float32 (D = 1 for score methods)
    row_image: np.ndarray  # n_rows, position in image_ids of each row
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image_id, reason)
    from_cache: int = 0  # images whose rows came from the feature cache
    conversions: dict[str, int] = field(default_factory=dict)  # original mode -> images converted to RGB

    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    def rows_of(self, positions: np.ndarray) -> np.ndarray:
        """Boolean row mask for the images at the given positions of :attr:`image_ids`."""
        mask = np.zeros(self.n_images, dtype=bool)
        mask[positions] = True
        return mask[self.row_image]

    def image_mean(self, row_values: np.ndarray, row_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Average values of the selected rows over each image's rows.

        ``row_values`` holds one value (or vector) per row selected by ``row_mask``, in row order.
        Returns (image positions, per-image means) for the images selected by ``row_mask``.
        """
        img = self.row_image[row_mask]
        values = np.asarray(row_values, dtype=np.float64)
        if len(values) != len(img):
            raise ValueError(f"image_mean: {len(values)} values for {len(img)} selected rows")
        uniq, inverse = np.unique(img, return_inverse=True)
        sums = np.zeros((len(uniq),) + values.shape[1:], dtype=np.float64)
        np.add.at(sums, inverse, values)
        counts = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
        return uniq, sums / counts.reshape((-1,) + (1,) * (values.ndim - 1))


class RowStore(TypingProtocol):
    """What the extraction loop needs from a store of finished rows: one method's features of one
    dataset's images (:class:`iqabench.cache.PairCache`)."""

    def lookup(self, image_ids: list[str]) -> dict[str, np.ndarray]: ...

    def store(self, rows: dict[str, np.ndarray]) -> None: ...

    def flush(self) -> None: ...


class _ImageViews(torch.utils.data.Dataset):
    """Decoded views of each source: a file path, or an image already in memory (``iqabench.scorer``)."""

    def __init__(self, sources: list, views: Views):
        self.sources = sources
        self.views = views

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int):
        src = self.sources[i]
        try:
            if isinstance(src, Image.Image):  # in memory: its mode is what it is
                img, mode = src.convert(RGB), src.mode
            else:
                img, mode = decode_rgb(src)
            return i, (make_views(img, self.views), mode), None
        except IQABenchError as exc:
            return i, None, str(exc)


def _collate(items):
    return items


@contextlib.contextmanager
def _flushed(cache: RowStore | None, what: str):
    """Write the cache's buffer when the block ends, however it ends; a failure to write is reported,
    never raised over the block's own outcome."""
    try:
        yield
    finally:
        if cache is not None:
            try:
                cache.flush()
            except Exception as exc:  # disk full, permissions: the features are recomputed next time
                log.warning(f"{what}: features could not be written to the feature cache ({type(exc).__name__}: {exc})")


def extract_features(
    method: Method,
    index: pd.DataFrame,
    *,
    on_error: str = "raise",
    batch_size: int | None = None,
    workers: int = 0,
    cache: RowStore | None = None,
    desc: str = "",
) -> FeatureTable:
    """Extract ``method``'s rows for every image of ``index`` (columns ``image_id``, ``path``; a path may
    also be a PIL image in memory).

    However the extraction ends (done, an error, Ctrl-C), the finished images are written to ``cache``."""
    with _flushed(cache, desc or method.name):
        if on_error not in ON_ERROR:
            raise IQABenchError(f"--on-error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
        views = method.views
        rpi = views.rows_per_image
        ids = index["image_id"].tolist()
        paths = index["path"].tolist()
        names = [p if isinstance(p, str) else ids[k] for k, p in enumerate(paths)]  # what error messages name
        cached = cache.lookup(ids) if cache is not None else {}
        todo = [i for i, image_id in enumerate(ids) if image_id not in cached]
        if cached:
            log.info(f"{desc or method.name}: {len(cached)} of {len(ids)} images found in the feature cache")

        per_image: dict[int, np.ndarray] = {}  # position -> rows×D
        failures: dict[int, str] = {}
        modes: Counter[str] = Counter()  # original mode of every image read (decoded, or from the cache)

        def collect(finished: list[tuple[int, np.ndarray]]) -> None:
            # Finished images go to the cache at once (it buffers), so a killed run resumes where it stopped.
            for pos, rows in finished:
                per_image[pos] = rows
            if cache is not None and finished:
                cache.store({ids[pos]: rows for pos, rows in finished})

        if todo:
            runner = _BatchRunner(method, batch_size or method.batch_size, views, on_error, names)
            loader = torch.utils.data.DataLoader(
                _ImageViews([paths[i] for i in todo], views),
                batch_size=1,
                shuffle=False,
                num_workers=workers,
                collate_fn=_collate,
                # Its own generator: iterating a DataLoader draws a worker seed, which would otherwise advance
                # torch's global random state (loading is deterministic; nothing else is drawn).
                generator=torch.Generator().manual_seed(0),
            )
            with progress.bar(total=len(todo), desc=desc or f"extract {method.name}", unit="img") as pbar:
                for batch in loader:
                    for local, decoded, error in batch:
                        pos = todo[local]
                        if error is None:
                            tensors, mode = decoded
                            modes[mode] += 1
                            runner.add(pos, tensors)
                        elif on_error == "raise":
                            raise IQABenchError(error)
                        else:
                            failures[pos] = error
                        collect(runner.drain_finished())
                        pbar.update(1)
                runner.flush_all()
                collect(runner.drain_finished())
            failures.update(runner.failures)
            if cache is not None:
                cache.flush()

        position = {image_id: i for i, image_id in enumerate(ids)}
        for image_id, rows in cached.items():
            per_image[position[image_id]] = rows
            modes[image_mode(paths[position[image_id]])] += 1  # header only: cached images are not decoded
        conversions = {m: n for m, n in sorted(modes.items()) if m != RGB}
        return _assemble(ids, per_image, failures, rpi, from_cache=len(cached), conversions=conversions)


def _assemble(ids, per_image, failures, rpi, from_cache, conversions) -> FeatureTable:
    good = sorted(per_image)
    if not good:
        first = next(iter(failures.values()), "no images")
        raise IQABenchError(f"no image could be processed ({len(failures)} failed; first: {first})")
    rows = np.concatenate([per_image[p] for p in good], axis=0).astype(np.float32, copy=False)
    row_image = np.repeat(np.arange(len(good), dtype=np.int64), [len(per_image[p]) for p in good])
    if any(len(per_image[p]) != rpi for p in good):
        raise IQABenchError("internal error: an image produced the wrong number of rows")
    return FeatureTable(
        image_ids=[ids[p] for p in good],
        rows=rows,
        row_image=row_image,
        failures=[(ids[p], failures[p]) for p in sorted(failures)],
        from_cache=from_cache,
        conversions=conversions,
    )


class _BatchRunner:
    """Accumulates views of many images by (scale, size) and runs the method on full batches."""

    def __init__(self, method: Method, batch_size: int, views: Views, on_error: str, paths: list[str]):
        self.method = method
        self.batch_size = max(1, batch_size)
        self.n_scales = len(views.scales)
        self.rpi = views.rows_per_image
        self.on_error = on_error
        self.paths = paths
        self.pending: dict[tuple, list[tuple[int, int, torch.Tensor]]] = defaultdict(list)
        self.outputs: dict[int, dict[tuple[int, int], np.ndarray]] = defaultdict(dict)  # pos -> (scale,row) -> vec
        self.failures: dict[int, str] = {}
        self.finished_rows: list[tuple[int, np.ndarray]] = []

    def add(self, pos: int, tensors: list[torch.Tensor]) -> None:
        for s, t in enumerate(tensors):
            group = (s, tuple(t.shape[-2:]))
            self.pending[group].extend((pos, r, t[r]) for r in range(t.shape[0]))
            if len(self.pending[group]) >= self.batch_size:
                self._run(group)

    def flush_all(self) -> None:
        for group in list(self.pending):
            while self.pending.get(group):
                self._run(group)

    def drain_finished(self) -> list[tuple[int, np.ndarray]]:
        out, self.finished_rows = self.finished_rows, []
        return out

    def _run(self, group: tuple) -> None:
        items = self.pending[group][: self.batch_size]
        self.pending[group] = self.pending[group][self.batch_size :]
        items = [it for it in items if it[0] not in self.failures]
        if not items:
            return
        try:
            out = self._forward([t for _, _, t in items])
        except IQABenchError as exc:
            if len({p for p, _, _ in items}) > 1:  # isolate the image that fails
                for it in items:
                    self._run_single(group[0], it)
                return
            self._fail(items[0][0], str(exc))
            return
        self._accept(group[0], items, out)

    def _run_single(self, scale: int, item) -> None:
        if item[0] in self.failures:
            return
        try:
            out = self._forward([item[2]])
        except IQABenchError as exc:
            self._fail(item[0], str(exc))
            return
        self._accept(scale, [item], out)

    def _forward(self, tensors: list[torch.Tensor]) -> np.ndarray:
        batch = torch.stack(tensors).to(self.method.device, non_blocking=True)
        with torch.inference_mode():
            out = self.method.extract(batch)
        out = out.detach().float().cpu().numpy()
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2 or out.shape[0] != len(tensors):
            raise IQABenchError(
                f"method {self.method.name!r} returned shape {tuple(out.shape)} for a batch of {len(tensors)}"
            )
        if self.method.kind == "scores" and out.shape[1] != 1:
            raise IQABenchError(f"scores method {self.method.name!r} returned {out.shape[1]} values per image")
        return out

    def _accept(self, scale: int, items, out: np.ndarray) -> None:
        finite = np.isfinite(out).all(axis=1)
        for (pos, row, _), vec, ok in zip(items, out, finite):
            if pos in self.failures:
                continue
            if not ok:
                self._fail(pos, f"method {self.method.name!r} returned a non-finite value")
                continue
            self.outputs[pos][(scale, row)] = vec
            if len(self.outputs[pos]) == self.rpi * self.n_scales:
                parts = self.outputs.pop(pos)
                rows = np.stack(
                    [np.concatenate([parts[(s, r)] for s in range(self.n_scales)]) for r in range(self.rpi)]
                )
                self.finished_rows.append((pos, rows))

    def _fail(self, pos: int, reason: str) -> None:
        message = reason if self.paths[pos] in reason else f"image {self.paths[pos]!r}: {reason}"
        if self.on_error == "raise":
            raise IQABenchError(message)
        self.failures[pos] = message
        self.outputs.pop(pos, None)
