"""Losses, trainers, the weak planar pipeline and the supervised pipelines."""
