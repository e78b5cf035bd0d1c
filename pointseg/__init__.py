"""pointseg: dense vertebra masks for CT from a few clicks per vertebra.

Core package: volumes and IO (:mod:`pointseg.volume`), datasets (:mod:`pointseg.dataset`), label sets,
points, phantoms, simulated clicks, planar preprocessing, metrics and the ``pointseg`` command line.
"""

__version__ = "0.1.0"
