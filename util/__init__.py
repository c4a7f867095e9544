"""Helpers: image conversion and saving, the image pool, HTML pages, the visualizer."""
