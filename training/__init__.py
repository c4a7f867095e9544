"""The training run: progress, save and resume, signals, validation, set-up checks and the end of each epoch."""
