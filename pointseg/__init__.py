"""pointseg: dense vertebra masks for CT from a few clicks per vertebra.

Core package: volumes and IO (:mod:`pointseg.io.volume`), datasets (:mod:`pointseg.io.dataset`), label sets,
points, phantoms, simulated clicks, planar preprocessing, metrics and the ``pointseg`` command line.
"""

__version__ = "0.2.0"
