"""Measuring segmentations and their cost.

- :mod:`pointseg.metrics.dice`: per-class Dice, Dice_wi (inverse-occurrence weighted) and the confusion matrix;
- :mod:`pointseg.metrics.many_class`: median DSC with 16/84 percentiles, detection ratio, foreground DSC;
- :mod:`pointseg.metrics.summary`: the JSON form of a case's scores, combining the two;
- :mod:`pointseg.metrics.cost`: the labelling cost of clicks against drawing full masks.
"""
