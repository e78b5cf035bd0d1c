"""Seconds to generate one default-size phantom case (the target is under 5 s on a 2-core CPU).

Times ``make_phantom`` alone and ``write_phantoms`` (generation + NIfTI writing) for a few seeds, for the
default 1.5 mm spacing and for an anisotropic 1 x 1 x 3 mm grid. Usage: ``python benchmarks/phantom_speed.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pointseg.phantom import PhantomConfig, make_phantom
from pointseg.simulate.cases import write_phantoms


def main(seeds: int = 3) -> None:
    for spacing in ((1.5, 1.5, 1.5), (1.0, 1.0, 3.0)):
        config = PhantomConfig(spacing=spacing)
        times = []
        for seed in range(seeds):
            start = time.perf_counter()
            phantom = make_phantom(seed, config)
            times.append(time.perf_counter() - start)
        print(f"make_phantom spacing {spacing}: shape {phantom.ct.shape}, "
              f"mean {sum(times) / len(times):.2f} s, max {max(times):.2f} s over {seeds} seeds")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_phantoms(Path(tmp), seeds, seed=0)
        per_case = (time.perf_counter() - start) / seeds
    print(f"write_phantoms (generate + write NIfTI): {per_case:.2f} s per case; target < 5 s -> "
          f"{'met' if per_case < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
