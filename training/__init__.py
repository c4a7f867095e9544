"""The training run around train.py's loop: where it stands and how it is saved and resumed (state), stop and save
signals (interrupt), validation, the end of each epoch (epoch) and the set-up checks (preflight)."""
