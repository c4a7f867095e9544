"""Command-line options: base_options (BaseOptions: the shared flags, and the flag groups predict.py, serve.py and
export.py reuse), train_options (TrainOptions) and test_options (TestOptions). Options ask data and models for their
own flags (modify_commandline_options)."""
