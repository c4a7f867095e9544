"""Helpers that know nothing of data, models, options or the training run: checkpoint file names and I/O,
image reading, conversion and saving, HTML pages, metrics, the visualizer and its visdom display, the image pool,
devices, random state, torchrun helpers, the class registry and the one user-error type."""
