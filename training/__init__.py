"""Training-run machinery: guards and bookkeeping around the training loop of train.py."""
