"""Does the viewer stay responsive while *Build pseudo-mask* runs, and what does a build cost?

Opens a phantom case (default grid, 1.5 mm) with simulated clicks in napari with the annotation widget
(after importing PyTorch first, as ``pointseg annotate`` does),
then measures the Qt event loop: a 20 ms timer records the gaps between its ticks, first for a few
seconds with the viewer idle, then while the widget's worker trains the missing planar models and fuses.
A gap is how long the viewer could not react to the user. Prints the build time, the tick gaps (median,
95th percentile, max) idle and during the build, and the ratio of the max gaps. Also saves a screenshot
of the viewer with the pseudo-mask. Needs a display (``xvfb-run -a python benchmarks/annotate_build.py``).

Usage: ``python benchmarks/annotate_build.py [--profile tiny|quick] [--screenshot PNG]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _tick_gaps(app, seconds: float, until=None) -> np.ndarray:
    from qtpy.QtCore import QTimer

    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    start = time.perf_counter()
    while (until is None and time.perf_counter() - start < seconds) or (until is not None and not until()):
        app.processEvents()
        time.sleep(0.002)
    timer.stop()
    return np.diff(stamps) * 1000.0


def _summary(gaps: np.ndarray) -> str:
    return f"median {np.median(gaps):.0f} ms, p95 {np.percentile(gaps, 95):.0f} ms, max {gaps.max():.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny", choices=("tiny", "quick"))
    parser.add_argument("--screenshot", default="out/screenshots/annotate_pseudo.png")
    args = parser.parse_args()

    from pointseg.annotate.app import open_annotation, preload_training

    preload_training()  # as pointseg annotate does before its window opens
    import napari
    from qtpy.QtWidgets import QApplication

    from pointseg.simulate.clicks import ClickConfig
    from pointseg.labels import get_label_set
    from pointseg.simulate.cases import write_phantoms, write_simulated_clicks

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        write_phantoms(root, 1, seed=0)
        write_simulated_clicks(root, get_label_set(), ClickConfig(per_class=5, background=15), seed=0)
        viewer, widget = open_annotation(root / "phantom_000", viewer=napari.Viewer())
        viewer.window.resize(1500, 950)
        app = QApplication.instance()
        idle = _tick_gaps(app, 3.0)
        widget.profile_combo.setCurrentText(args.profile)
        start = time.perf_counter()
        widget.build_pseudo_mask()
        busy = _tick_gaps(app, 0, until=lambda: widget.worker is None)
        seconds = time.perf_counter() - start
        _tick_gaps(app, 0.5)
        Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
        widget.show_view("coronal")
        viewer.screenshot(args.screenshot, canvas_only=False)
        print(f"profile {args.profile}: build {seconds:.1f} s ({widget.build_status.text()})")
        print(f"event-loop gaps, idle:   {_summary(idle)}")
        print(f"event-loop gaps, build:  {_summary(busy)}")
        print(f"max gap during build / idle: {busy.max() / idle.max():.1f}")
        print(f"screenshot: {args.screenshot}")
        viewer.close()


if __name__ == "__main__":
    main()
