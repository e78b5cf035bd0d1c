"""The annotation widget: click points per vertebra, autosave them, build and show the pseudo-mask.

The widget follows the last points layer opened with the pointseg reader (a case, a CT). Keys 1–5 pick
L1–L5 (1–9 for larger label sets) and 0 background; a click in the 2D view then adds a point of that label.
Every change (add, delete, move, undo) is written at once and atomically to the layer's ``points.csv``,
with the click time (``time_s``, seconds since the epoch) and the annotator, so closing or killing napari
loses at most the click being made. *Build pseudo-mask* runs ``fuse`` for the case in a worker thread
(training the planar models the case's dataset lacks first) and shows the result as a Labels layer.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels, Points
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QApplication,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from annotate.layers import (
    META_KEY,
    VIEW_ORDERS,
    DisplayGeometry,
    current_user,
    labels_layer,
    layer_label_set,
    points_from_layer,
)
from pointseg.dataset import case_at
from pointseg.labels import LabelSet, get_label_set
from pointseg.points import write_points
from pointseg.volume import read_volume

WINDOWS = {  # CT window presets (HU)
    "Bone (−450…1050 HU)": (-450.0, 1050.0),
    "Soft tissue (−160…240 HU)": (-160.0, 240.0),
}
PROFILES = ("quick", "tiny", "paper")
EDITING = ("adding", "removing", "changing")


def _meta(layer) -> dict:
    return (getattr(layer, "metadata", None) or {}).get(META_KEY) or {}


def _action(event) -> str | None:
    action = getattr(event, "action", None)
    return None if action is None else str(getattr(action, "value", action))


def keep_triton_out() -> None:
    """Stop torch from importing triton in this process (torch works without it; only ``torch.compile``
    needs it). triton bundles its own LLVM, and importing it after napari has made an OpenGL context on
    Mesa's llvmpipe (software rendering, as under xvfb) crashes the process."""
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]  # ``import triton`` now raises ImportError


def _show_overlays(viewer) -> None:
    """The scale bar (mm) on the canvas."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    if overlays is not None and "scale_bar" in overlays:
        overlays["scale_bar"].visible = True
    else:  # napari before 0.9
        viewer.scale_bar.visible = True


class AnnotationWidget(QWidget):
    """Dock widget for point annotation; ``napari_viewer`` is passed in by napari."""

    progressed = Signal(str, int, object)  # description, done, total (None when unknown); thread-safe

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.layer: Points | None = None
        self.geometry: DisplayGeometry | None = None
        self.label_set: LabelSet = get_label_set("lumbar")
        self.current_label = self.label_set.foreground[0]
        self.points_path: Path | None = None
        self.case_dir: Path | None = None
        self.saved_at: float | None = None
        self.save_error: str | None = None
        self.worker = None
        self._history: list[tuple[np.ndarray, object]] = []
        self._editing = False
        self._count_before = 0
        self._quiet = False
        self._cancel = threading.Event()
        self._label_buttons: dict[str, QPushButton] = {}

        self._build_ui()
        self.progressed.connect(self._on_progress)
        QApplication.instance().aboutToQuit.connect(self._cancel.set)  # a running build stops with napari
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.layers.selection.events.active.connect(self._on_active_changed)
        for layer in reversed(list(self.viewer.layers)):
            if self._is_case_points(layer):
                self.attach(layer)
                break
        self._refresh()

    # ----------------------------------------------------------------------------------------- UI
    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.title = QLabel("No case open")
        self.title.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.path_label = QLabel("Open a case folder or a CT (File ▸ Open), or File ▸ Open Sample ▸ pointseg.")
        self.path_label.setWordWrap(True)
        self.path_label.setStyleSheet("color: #9aa0a6;")
        layout.addWidget(self.title)
        layout.addWidget(self.path_label)

        self.labels_box = QGroupBox("Label")
        self.labels_grid = QGridLayout(self.labels_box)
        self.labels_grid.setSpacing(4)
        self.button_group = QButtonGroup(self)
        self.button_group.setExclusive(True)
        layout.addWidget(self.labels_box)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)

        edit_row = QHBoxLayout()
        self.undo_button = QPushButton("Undo  (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.setToolTip("Select points first (key S, then click or drag a box); Delete also works")
        self.delete_button.clicked.connect(self.delete_selected)
        edit_row.addWidget(self.undo_button)
        edit_row.addWidget(self.delete_button)
        layout.addLayout(edit_row)

        view_box = QGroupBox("View")
        view_layout = QVBoxLayout(view_box)
        view_row = QHBoxLayout()
        for name in VIEW_ORDERS:
            button = QPushButton(name.capitalize())
            button.clicked.connect(lambda _=False, n=name: self.show_view(n))
            view_row.addWidget(button)
        view_layout.addLayout(view_row)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS))
        self.window_combo.currentTextChanged.connect(self.set_window)
        view_layout.addWidget(self.window_combo)
        layout.addWidget(view_box)

        build_box = QGroupBox("Pseudo-mask")
        build_layout = QVBoxLayout(build_box)
        models_row = QHBoxLayout()
        models_row.addWidget(QLabel("Planar models"))
        self.models_edit = QLineEdit()
        self.models_edit.setToolTip("Folder with axial/, coronal/ and sagittal/ runs; missing ones are trained")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse_models)
        models_row.addWidget(self.models_edit, 1)
        models_row.addWidget(browse)
        build_layout.addLayout(models_row)
        profile_row = QHBoxLayout()
        profile_row.addWidget(QLabel("Train missing with"))
        self.profile_combo = QComboBox()
        self.profile_combo.addItems(PROFILES)
        self.profile_combo.setToolTip("quick: minutes on a CPU; tiny: seconds (a smoke test); paper: GPU")
        profile_row.addWidget(self.profile_combo, 1)
        build_layout.addLayout(profile_row)
        run_row = QHBoxLayout()
        self.build_button = QPushButton("Build pseudo-mask")
        self.build_button.setStyleSheet("font-weight: bold;")
        self.build_button.clicked.connect(self.build_pseudo_mask)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_build)
        run_row.addWidget(self.build_button, 1)
        run_row.addWidget(self.cancel_button)
        build_layout.addLayout(run_row)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.build_status = QLabel()
        self.build_status.setWordWrap(True)
        build_layout.addWidget(self.progress_bar)
        build_layout.addWidget(self.build_status)
        layout.addWidget(build_box)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #9aa0a6;")
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def _make_label_buttons(self) -> None:
        for button in self._label_buttons.values():
            self.button_group.removeButton(button)
            button.deleteLater()
        self._label_buttons = {}
        names = list(self.label_set.foreground) + ["background"]
        last_key = self._hotkey(self.label_set.foreground[-1]) or "9"
        self.labels_box.setTitle(f"Label  (keys 1–{last_key}, 0 background; with points selected: relabel)")
        for row, name in enumerate(names):
            red, green, blue = self.label_set.color_of(name)
            button = QPushButton()
            button.setCheckable(True)
            button.setMinimumHeight(26)
            button.setStyleSheet(
                "QPushButton { text-align: left; padding: 3px 8px; border-radius: 3px;"
                f" border-left: 10px solid rgb({red},{green},{blue}); }}"
                f"QPushButton:checked {{ background-color: rgba({red},{green},{blue},110); font-weight: bold; }}"
            )
            button.clicked.connect(lambda _=False, n=name: self.set_label(n))
            key = self._hotkey(name)
            button.setToolTip(f"{'Key ' + key + ': ' if key else ''}clicks in the view add {name} points; "
                              "with points selected (key S), gives them this label")
            self.button_group.addButton(button)
            self.labels_grid.addWidget(button, row // 2, row % 2)
            self._label_buttons[name] = button

    def _hotkey(self, name: str) -> str:
        if name == "background":
            return "0"
        index = self.label_set.foreground.index(name) + 1
        return str(index) if index <= 9 else ""

    # --------------------------------------------------------------------------------- attaching
    @staticmethod
    def _is_case_points(layer) -> bool:
        return isinstance(layer, Points) and bool(_meta(layer).get("points_path"))

    def _on_layer_inserted(self, event) -> None:
        if self._is_case_points(event.value):
            self.attach(event.value)

    def _on_active_changed(self, event) -> None:
        if self._is_case_points(event.value):  # selecting another case's points switches to that case
            self.attach(event.value)

    def _on_layer_removed(self, event) -> None:
        if event.value is self.layer:
            self.detach()

    def attach(self, layer: Points) -> None:
        """Annotate ``layer`` (a points layer from the pointseg reader)."""
        if layer is self.layer:
            return
        self.detach()
        meta = _meta(layer)
        self.layer = layer
        self.geometry = DisplayGeometry.from_meta(layer.metadata)
        self.points_path = Path(meta["points_path"])
        self.case_dir = Path(meta["case_dir"]) if meta.get("case_dir") else None
        label_set = layer_label_set(layer.metadata)
        if label_set.name != self.label_set.name or not self._label_buttons:
            self.label_set = label_set
            self._make_label_buttons()
        self._history.clear()
        layer.events.data.connect(self._on_data)
        for name in list(self.label_set.foreground) + ["background"]:
            key = self._hotkey(name)
            if key:
                layer.bind_key(key, lambda _layer, n=name: self.set_label(n), overwrite=True)
                self.viewer.bind_key(key, lambda _viewer, n=name: self.set_label(n), overwrite=True)
        layer.bind_key("Control-Z", lambda _layer: self.undo(), overwrite=True)
        if self.case_dir is not None and not self.models_edit.text():
            self.models_edit.setText(str(self.case_dir.parent / "planar-runs"))
        self.title.setText(self.case_dir.name if self.case_dir else Path(meta.get("ct_path") or layer.name).name)
        self.path_label.setText(f"Points autosave to {self.points_path}")
        _show_overlays(self.viewer)
        keep = self.current_label in self._label_buttons
        self.set_label(self.current_label if keep else self.label_set.foreground[0])
        self._refresh()

    def detach(self) -> None:
        if self.layer is not None:
            self.layer.events.data.disconnect(self._on_data)
        self.layer = None
        self.geometry = None
        self._refresh()

    # ---------------------------------------------------------------------------------- labelling
    def set_label(self, name: str) -> None:
        """Make ``name`` the label of the next clicks and put the points layer in add mode.

        With the select tool active and points selected, the selected points get the label instead (one
        undo step) and the tool stays as it is.
        """
        if name not in self._label_buttons:
            return
        self.current_label = name
        self._label_buttons[name].setChecked(True)
        if self.layer is None:
            return
        if str(self.layer.mode) == "select" and self.layer.selected_data:
            self.relabel_selected(name)
            return
        self.layer.selected_data = set()  # a new label applies to new clicks, never to selected points
        self.layer.feature_defaults = {"label": name, "time_s": np.nan, "annotator": current_user()}
        self.viewer.layers.selection.active = self.layer
        self.layer.mode = "add"

    def relabel_selected(self, name: str) -> None:
        """Give the selected points the label ``name`` (their click times stay)."""
        rows = sorted(self.layer.selected_data)
        if not rows:
            return
        self._history.append(self._snapshot())
        features = self.layer.features.copy()
        features.loc[rows, "label"] = name
        self._replace(np.asarray(self.layer.data), features)
        self.layer.selected_data = set(rows)
        self.save()

    def _snapshot(self) -> tuple[np.ndarray, object]:
        return np.array(self.layer.data, copy=True), self.layer.features.copy()

    def _on_data(self, event) -> None:
        if self._quiet or self.layer is None:
            return
        action = _action(event)
        if action in EDITING:
            if not self._editing:  # one undo step per change, however many events a drag sends
                self._history.append(self._snapshot())
                self._count_before = len(self.layer.data)
                self._editing = True
            return
        self._editing = False
        if action == "added":
            self._stamp(range(self._count_before, len(self.layer.data)))
        self._drop_outside()
        self.save()

    def _stamp(self, rows: range) -> None:
        features = self.layer.features
        rows = list(rows)
        if rows:
            features.loc[rows, "time_s"] = time.time()
            features.loc[rows, "annotator"] = current_user()

    def _drop_outside(self) -> None:
        inside = self.geometry.inside(self.layer.data)
        if inside.all():
            return
        self._replace(np.asarray(self.layer.data)[inside], self.layer.features[inside].reset_index(drop=True))
        show_info("pointseg: a point outside the CT was not kept")

    def _replace(self, data: np.ndarray, features) -> None:
        self._quiet = True
        try:
            self.layer.data = data
            self.layer.features = features
            self.layer.refresh_colors(update_color_mapping=False)
        finally:
            self._quiet = False

    def undo(self) -> None:
        """Take back the last change (add, delete or move)."""
        if self.layer is None or not self._history:
            self.status.setText("Nothing to undo.")
            return
        data, features = self._history.pop()
        self._replace(data, features)
        self.save()

    def delete_selected(self) -> None:
        if self.layer is None:
            return
        if not self.layer.selected_data:
            self.status.setText("Select points to delete first: key S, then click or drag a box.")
            return
        self.layer.remove_selected()

    # ------------------------------------------------------------------------------------- saving
    def save(self) -> Path | None:
        """Write the layer's points atomically to its ``points.csv``."""
        if self.layer is None:
            return None
        try:
            points = points_from_layer(self.layer.data, self.layer.features, self.geometry)
            write_points(self.points_path, points, force=True)
        except Exception as exc:  # a full disk or a read-only folder must not go unnoticed
            self.save_error = str(exc)
            show_error(f"pointseg: could not save {self.points_path}: {exc}")
            self._refresh()
            return None  # the points stay in the layer; the next change saves them all
        self.saved_at, self.save_error = time.time(), None
        self._refresh()
        return self.points_path

    def counts(self) -> dict[str, int]:
        """Points per label of the label set (0 for labels without points)."""
        names = list(self.label_set.names)
        if self.layer is None or len(self.layer.data) == 0:
            return dict.fromkeys(names, 0)
        values = [str(v) for v in self.layer.features["label"]]
        return {name: values.count(name) for name in names}

    def _refresh(self) -> None:
        counts = self.counts()
        for name, button in self._label_buttons.items():
            key = self._hotkey(name)
            button.setText(f"{key + '   ' if key else ''}{name}    {counts.get(name, 0)}")
        active = self.layer is not None
        for widget in (self.undo_button, self.delete_button, self.build_button):
            widget.setEnabled(active and self.worker is None)
        self.undo_button.setEnabled(active and bool(self._history))
        if not active:
            self.hint.setText("")
            self.status.setText("")
            return
        missing = [n for n in self.label_set.foreground if counts.get(n, 0) == 0]
        if missing:
            self.hint.setText("Still without points: " + ", ".join(missing))
            self.hint.setStyleSheet("color: #f0b429;")
        elif counts.get("background", 0) == 0:
            self.hint.setText("Every vertebra has points; add a few background clicks (key 0) too.")
            self.hint.setStyleSheet("color: #f0b429;")
        else:
            self.hint.setText("Every label has points.")
            self.hint.setStyleSheet("color: #5fd068;")
        total = sum(counts.values())
        self.status.setStyleSheet("color: #ff6b6b; font-weight: bold;" if self.save_error else "color: #9aa0a6;")
        if self.save_error:
            self.status.setText(f"NOT SAVED to {self.points_path}: {self.save_error}")
        elif self.saved_at is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(self.saved_at))
            self.status.setText(f"{total} points saved to {self.points_path.name} at {stamp}")
        else:
            self.status.setText(f"{total} points in {self.points_path.name}")

    # ---------------------------------------------------------------------------------- viewing
    def show_view(self, name: str) -> None:
        """Show the axial, coronal or sagittal plane in the 2D view."""
        self.viewer.dims.ndisplay = 2
        self.viewer.dims.order = VIEW_ORDERS[name]
        self.viewer.reset_view()

    def ct_layer(self) -> Image | None:
        ct_path = _meta(self.layer).get("ct_path") if self.layer is not None else None
        images = [lay for lay in self.viewer.layers if isinstance(lay, Image) and _meta(lay).get("role") == "ct"]
        for layer in images:
            if ct_path and _meta(layer).get("path") == ct_path:
                return layer
        return images[-1] if images else None

    def set_window(self, preset: str) -> None:
        """Apply a CT window preset (a key of :data:`WINDOWS`) to the case's CT layer."""
        layer = self.ct_layer()
        if layer is None or preset not in WINDOWS:
            return
        low, high = WINDOWS[preset]
        current = layer.contrast_limits_range
        layer.contrast_limits_range = (min(low, current[0]), max(high, current[1]))
        layer.contrast_limits = (low, high)
        if self.window_combo.currentText() != preset:
            self.window_combo.setCurrentText(preset)

    # --------------------------------------------------------------------------- pseudo-mask
    def _browse_models(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Planar models folder", self.models_edit.text())
        if folder:
            self.models_edit.setText(folder)

    def build_pseudo_mask(self):
        """Start ``fuse`` for the open case in a worker thread; returns the worker (None when refused)."""
        if self.worker is not None or self.layer is None:
            return None
        case = case_at(self.case_dir) if self.case_dir is not None else None
        if case is None:
            self.build_status.setText("A pseudo-mask is built for a dataset case folder (DATASET/<case>/ct.nii.gz).")
            return None
        if len(self.layer.data) == 0:
            self.build_status.setText("Click some points first.")
            return None
        runs = Path(self.models_edit.text() or case.dir.parent / "planar-runs")
        profile, label_set = self.profile_combo.currentText(), self.label_set
        cancel, emit = self._cancel, self.progressed.emit
        cancel.clear()
        keep_triton_out()

        def job() -> Path:
            from pointseg.progress import Cancelled, observe
            from pseudo.pipeline import (
                build_case_pseudo_mask,  # torch is imported here, in the worker
            )

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
        worker.errored.connect(self._on_build_failed)
        worker.finished.connect(self._on_build_finished)
        self.worker = worker
        self.cancel_button.setEnabled(True)
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)
        self.build_status.setText("Starting…")
        self._refresh()
        worker.start()
        return worker

    def cancel_build(self) -> None:
        if self.worker is not None:
            self._cancel.set()
            self.build_status.setText("Cancelling…")

    def _on_progress(self, description: str, done: int, total) -> None:
        if total:
            self.progress_bar.setRange(0, int(total))
            self.progress_bar.setValue(min(int(done), int(total)))
            self.build_status.setText(f"{description}: {done}/{total}")
        else:
            self.progress_bar.setRange(0, 0)
            self.build_status.setText(description)

    def _on_built(self, layer_data: tuple) -> None:
        data, meta, _ = layer_data
        path = meta["metadata"][META_KEY]["path"]
        existing = [lay for lay in self.viewer.layers if isinstance(lay, Labels)
                    and _meta(lay).get("role") == "pseudo" and _meta(lay).get("path") == path]
        if existing:
            existing[0].data = data
            existing[0].visible = True
        else:
            layer = Labels(data, **meta)
            layers = self.viewer.layers
            index = layers.index(self.layer) if self.layer in layers else len(layers)
            layers.insert(index, layer)  # below the points, so clicks stay visible
        if self.layer is not None:
            self.viewer.layers.selection.active = self.layer
        self.build_status.setText(f"Pseudo-mask written to {path}")

    def _on_build_failed(self, error: Exception) -> None:
        from pointseg.progress import Cancelled

        if isinstance(error, Cancelled):
            self.build_status.setText("Cancelled; nothing was overwritten. Trained epochs are kept and resumed.")
            return
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self.build_status.setText(f"Failed: {message}")
        show_error(f"pointseg: building the pseudo-mask failed: {message}")

    def _on_build_finished(self) -> None:
        self.worker = None
        self.cancel_button.setEnabled(False)
        self.progress_bar.setVisible(False)
        self._refresh()
