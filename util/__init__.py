"""Helpers that know nothing of data, models, options or the training run:
checkpoint (the one module that names, writes and reads the files of an experiment folder, the lock included),
image_io (image files at any depth, and the one reader of label and instance ID maps), util (tensor to image, saving),
lab (CIE Lab for colorization), html (the result and training pages), metrics (L1, PSNR, SSIM), visualizer (the loss
log, training page and trackers) with visdom_display, wandb_tracker and tensorboard_tracker, image_pool (the history
of generated images D sees), hardware (devices and what they compute natively), rng (seeding and random state),
distributed (torchrun helpers), registry (classes found by name) and errors (the one user-error type)."""
