"""Self-supervised training: a generic core and the method-specific parts.

Generic (reusable by any method's trainer):

* :mod:`.config`: YAML configs shipped as package data (``iqabench/configs/<method>[-<name>].yaml``),
  user files, dotted overrides, a stable hash;
* :mod:`.loop`: :class:`~.loop.Trainer`, the loop (AMP, per-iteration scheduler stepping with the
  fractional epoch, progress bar, metrics CSV, periodic and best checkpoints, mid-epoch resume,
  Ctrl-C saving a resumable checkpoint) around a :class:`~.loop.Task`;
* :mod:`.checkpoint`: complete checkpoints (model, optimiser, scaler, scheduler, RNG states,
  position, config), written atomically and read with ``weights_only=True``;
* :mod:`.distributed`: ``torchrun`` / DDP helpers (gloo on CPU, NCCL on CUDA);
* :mod:`.optim`: SGD and the cosine-with-warm-restarts schedule from the config;
* :mod:`.pools`: pristine image pools (a folder, a dataset plugin, the bundled demo photographs);
* :mod:`.contrastive`: the NT-Xent loss.

ARNIQA-specific: :mod:`.arniqa` (pair sampling, the four views, degradation on the device, the
loss layout and its ablations, per-epoch ridge validation) and :mod:`.arniqa_demo` (the cached
demo model of ``iqabench demo``).
"""
