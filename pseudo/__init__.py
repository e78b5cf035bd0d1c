"""Turning planar predictions into pseudo-masks: tri-planar fusion, smoothing and per-class cleanup."""
