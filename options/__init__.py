"""Command-line options: BaseOptions (the shared flags, and the groups predict.py, serve.py and export.py reuse),
TrainOptions and TestOptions. Options ask data and models for their own flags (modify_commandline_options)."""
