"""Helpers that know nothing of data, models, options or the training run: the files of an experiment folder
(checkpoint: names, writes, reads, the lock), image files (image_io: reading at any depth, ID maps, writing), Lab
colour (lab), HTML pages (html), metrics, the visualizer with its visdom display and the wandb and TensorBoard
trackers, the image pool, devices (hardware), random state (rng), torchrun helpers (distributed), the class registry
and the one user-error type (errors)."""
