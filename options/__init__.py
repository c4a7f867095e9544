"""Command-line options: BaseOptions, TrainOptions and TestOptions."""
