"""The widget's *Pseudo-mask* box: the planar models folder, the training profile, Build / Cancel and progress.

*Build pseudo-mask* runs :func:`pointseg.annotate.build.build_case_pseudo_mask` for the open case in a worker
thread (PyTorch is imported there, not when the plugin opens), reports its progress here and shows the
result as a Labels layer below the case's points. Cancel, or quitting napari, stops a build.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Callable

from napari.layers import Labels, Points
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
)

from pointseg.annotate.layers import META_KEY, labels_layer, layer_meta
from pointseg.io.dataset import case_at
from pointseg.labels import LabelSet
from pointseg.train.pipelines import PROFILES
from pointseg.io.volume import read_volume


def keep_triton_out() -> None:
    """Stop torch from importing triton in this process (torch works without it; only ``torch.compile``
    needs it). triton bundles its own LLVM, and importing it after napari has made an OpenGL context on
    Mesa's llvmpipe (software rendering, as under xvfb) crashes the process."""
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]  # ``import triton`` now raises ImportError


class BuildPanel(QGroupBox):
    """Builds a case's pseudo-mask in a worker thread and shows it in ``viewer``, below the points layer that
    ``points_layer()`` gives (the one being annotated)."""

    progressed = Signal(str, int, object)  # description, done, total (None when unknown); thread-safe
    running = Signal(bool)  # a build started (True) or ended (False)

    def __init__(self, viewer, points_layer: Callable[[], Points | None], parent=None):
        super().__init__("Pseudo-mask", parent)
        self.viewer = viewer
        self.worker = None
        self._points_layer = points_layer
        self._cancel = threading.Event()

        layout = QVBoxLayout(self)
        models_row = QHBoxLayout()
        models_row.addWidget(QLabel("Planar models"))
        self.models_edit = QLineEdit()
        self.models_edit.setToolTip("Folder with axial/, coronal/ and sagittal/ runs; missing ones are trained")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse_models)
        models_row.addWidget(self.models_edit, 1)
        models_row.addWidget(browse)
        layout.addLayout(models_row)
        profile_row = QHBoxLayout()
        profile_row.addWidget(QLabel("Train missing with"))
        self.profile_combo = QComboBox()
        self.profile_combo.addItems(list(PROFILES))
        self.profile_combo.setToolTip("quick: minutes on a CPU; tiny: seconds (a smoke test); paper: GPU")
        profile_row.addWidget(self.profile_combo, 1)
        layout.addLayout(profile_row)
        run_row = QHBoxLayout()
        self.build_button = QPushButton("Build pseudo-mask")
        self.build_button.setStyleSheet("font-weight: bold;")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        run_row.addWidget(self.build_button, 1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)

        self.progressed.connect(self._on_progress)
        QApplication.instance().aboutToQuit.connect(self._cancel.set)  # a running build stops with napari

    def set_case(self, case_dir: Path | None) -> None:
        """Propose ``<dataset>/planar-runs`` as the models folder of the case in ``case_dir``."""
        if case_dir is not None and not self.models_edit.text():
            self.models_edit.setText(str(case_dir.parent / "planar-runs"))

    def _browse_models(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Planar models folder", self.models_edit.text())
        if folder:
            self.models_edit.setText(folder)

    def build(self, case_dir: Path | None, label_set: LabelSet):
        """Start ``fuse`` for the case in ``case_dir`` in a worker thread; returns the worker (None when
        refused)."""
        points = self._points_layer()
        if self.worker is not None or points is None:
            return None
        case = case_at(case_dir) if case_dir is not None else None
        if case is None:
            self.status.setText("A pseudo-mask is built for a dataset case folder (DATASET/<case>/ct.nii.gz).")
            return None
        if len(points.data) == 0:
            self.status.setText("Click some points first.")
            return None
        runs = Path(self.models_edit.text() or case.dir.parent / "planar-runs")
        profile = self.profile_combo.currentText()
        cancel, emit = self._cancel, self.progressed.emit
        cancel.clear()
        keep_triton_out()

        def job() -> tuple:
            from pointseg.annotate.build import build_case_pseudo_mask  # torch is imported there, in the worker
            from pointseg.progress import Cancelled, observe

            def report(description: str, done: int, total: int | None) -> None:
                if cancel.is_set():
                    raise Cancelled("cancelled")
                emit(description, done, total)

            with observe(report):
                path = build_case_pseudo_mask(case, runs, label_set, profile=profile)
            # read and reorient here too, so the viewer thread only swaps the layer data
            return labels_layer(read_volume(path), label_set, f"{case.id} pseudo-mask", role="pseudo")

        worker = create_worker(job, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._on_built)
        worker.errored.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.cancel_button.setEnabled(True)
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)
        self.status.setText("Starting…")
        self.running.emit(True)
        worker.start()
        return worker

    def cancel(self) -> None:
        if self.worker is not None:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def _on_progress(self, description: str, done: int, total) -> None:
        if total:
            self.progress_bar.setRange(0, int(total))
            self.progress_bar.setValue(min(int(done), int(total)))
            self.status.setText(f"{description}: {done}/{total}")
        else:
            self.progress_bar.setRange(0, 0)
            self.status.setText(description)

    def _on_built(self, layer_data: tuple) -> None:
        data, meta, _ = layer_data
        path = meta["metadata"][META_KEY]["path"]
        layers, points = self.viewer.layers, self._points_layer()
        existing = [lay for lay in layers if isinstance(lay, Labels)
                    and layer_meta(lay).get("role") == "pseudo" and layer_meta(lay).get("path") == path]
        if existing:
            existing[0].data = data
            existing[0].visible = True
        else:
            index = layers.index(points) if points in layers else len(layers)
            layers.insert(index, Labels(data, **meta))  # below the points, so clicks stay visible
        if points is not None:
            layers.selection.active = points
        self.status.setText(f"Pseudo-mask written to {path}")

    def _on_failed(self, error: Exception) -> None:
        from pointseg.progress import Cancelled

        if isinstance(error, Cancelled):
            self.status.setText("Cancelled; nothing was overwritten. Trained epochs are kept and resumed.")
            return
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.status.setText(f"Failed: {message}")
        show_error(f"pointseg: building the pseudo-mask failed: {message}")

    def _on_finished(self) -> None:
        self.worker = None
        self.cancel_button.setEnabled(False)
        self.progress_bar.setVisible(False)
        self.running.emit(False)
