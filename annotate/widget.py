"""The annotation widget: the layout, and the glue between a napari Points layer and an annotation session.

The widget follows the last points layer opened with the pointseg reader (a case, a CT) and holds an
:class:`~pointseg.annotate.session.AnnotationSession` for it, which keeps the points, the undo history and
autosaves to the layer's ``points.csv``. Keys 1–5 pick L1–L5 (1–9 in other small label sets) and 0
background, ``,``/``.`` the previous/next label and ``N`` the next one without points; label sets too large
for buttons get a searchable list (:mod:`~pointseg.annotate.label_panel`). A click in the 2D view then adds a
point of that label. Each change made in the layer (add, delete, move) goes to the session, and what the
session changes (undo, relabel, a point outside the CT dropped) goes back to the layer. *Build pseudo-mask*
lives in :class:`~pointseg.annotate.build_panel.BuildPanel`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from napari.layers import Image, Points
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from pointseg.annotate.build_panel import BuildPanel
from pointseg.annotate.label_panel import NEXT_KEY, NEXT_MISSING_KEY, PREVIOUS_KEY, LabelPanel
from pointseg.annotate.layers import (
    DisplayGeometry,
    layer_label_set,
    layer_meta,
    point_features,
    points_from_layer,
)
from pointseg.annotate.session import AnnotationSession, current_user
from pointseg.annotate.view_box import ViewBox, show_overlays
from pointseg.labels import DEFAULT_LABEL_SET, LabelSet, get_label_set

EDITING = ("adding", "removing", "changing")  # napari's data events before a change; "added" ... after it


def _action(event) -> str | None:
    action = getattr(event, "action", None)
    return None if action is None else str(getattr(action, "value", action))


class AnnotationWidget(QWidget):
    """Dock widget for point annotation; ``napari_viewer`` is passed in by napari."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.layer: Points | None = None
        self.geometry: DisplayGeometry | None = None
        self.session: AnnotationSession | None = None
        self.label_set: LabelSet = get_label_set(DEFAULT_LABEL_SET)
        self.case_dir: Path | None = None
        self._label = self.label_set.foreground[0]  # the label picked, kept from one case to the next
        self._new_step = False
        self._quiet = False
        self._viewer_keys: set[str] = set()  # keys this widget bound on the viewer

        self._build_ui()
        self.build_panel.running.connect(lambda _running: self._refresh())
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.layers.selection.events.active.connect(self._on_active_changed)
        for layer in reversed(list(self.viewer.layers)):
            if self._is_case_points(layer):
                self.attach(layer)
                break
        self._refresh()

    # ------------------------------------------------------------------------------------ session
    @property
    def current_label(self) -> str:
        return self.session.current_label if self.session is not None else self._label

    @property
    def points_path(self) -> Path | None:
        return self.session.points_path if self.session is not None else None

    @property
    def saved_at(self) -> float | None:
        return self.session.saved_at if self.session is not None else None

    @property
    def save_error(self) -> str | None:
        return self.session.save_error if self.session is not None else None

    @property
    def worker(self):
        """The running *Build pseudo-mask* worker (None when no build runs)."""
        return self.build_panel.worker

    def counts(self) -> dict[str, int]:
        """Points per label of the label set (0 for labels without points)."""
        if self.session is None:
            return dict.fromkeys(self.label_set.names, 0)
        return self.session.counts()

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

        self.label_panel = LabelPanel(self)
        self.label_panel.picked.connect(self.set_label)
        self.label_panel.next_missing_button.clicked.connect(self.next_missing)
        layout.addWidget(self.label_panel)
        panel = self.label_panel  # its parts, under the names tests and callers use
        self.labels_box, self.picker, self.hint = panel.buttons, panel.picker, panel.hint

        edit_row = QHBoxLayout()
        self.undo_button = QPushButton("Undo  (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.setToolTip("Select points first (key S, then click or drag a box); Delete also works")
        self.delete_button.clicked.connect(self.delete_selected)
        edit_row.addWidget(self.undo_button)
        edit_row.addWidget(self.delete_button)
        layout.addLayout(edit_row)

        self.view_box = ViewBox(self.viewer, lambda: self.layer, self)
        self.window_combo = self.view_box.window_combo
        layout.addWidget(self.view_box)

        self.build_panel = BuildPanel(self.viewer, lambda: self.layer, self)
        self.build_panel.build_button.clicked.connect(self.build_pseudo_mask)
        layout.addWidget(self.build_panel)
        panel = self.build_panel  # its controls, under the names the widget has always had
        self.models_edit, self.profile_combo, self.progressed = panel.models_edit, panel.profile_combo, panel.progressed
        self.build_button, self.cancel_button = panel.build_button, panel.cancel_button
        self.progress_bar, self.build_status = panel.progress_bar, panel.status

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #9aa0a6;")
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    # --------------------------------------------------------------------------------- attaching
    @staticmethod
    def _is_case_points(layer) -> bool:
        return isinstance(layer, Points) and bool(layer_meta(layer).get("points_path"))

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
        """Annotate ``layer`` (a points layer from the pointseg reader) in a new session."""
        if layer is self.layer:
            return
        self.detach()
        meta = layer_meta(layer)
        label_set = layer_label_set(layer.metadata)
        if label_set != self.label_panel.label_set:
            self.label_set = label_set
            self.label_panel.set_label_set(label_set)
        self.layer = layer
        self.geometry = DisplayGeometry.from_meta(layer.metadata)
        self.case_dir = Path(meta["case_dir"]) if meta.get("case_dir") else None
        points = points_from_layer(layer.data, layer.features, self.geometry)
        self.session = AnnotationSession(meta["points_path"], self.geometry.affine, self.geometry.shape, label_set,
                                         points)
        layer.events.data.connect(self._on_data)
        self._bind_keys(layer)
        self.build_panel.set_case(self.case_dir)
        self.title.setText(self.case_dir.name if self.case_dir else Path(meta.get("ct_path") or layer.name).name)
        self.path_label.setText(f"Points autosave to {self.points_path}")
        show_overlays(self.viewer)
        self.set_label(self._label if self._label in self.label_set.names else self.label_set.foreground[0])
        self._refresh()

    def _bind_keys(self, layer: Points) -> None:
        """The label keys on the layer and the viewer (those of an earlier label set unbound), and Ctrl+Z."""
        actions = {key: (lambda n=name: self.set_label(n)) for name, key in self.label_panel.keys.items()}
        actions.update({PREVIOUS_KEY: lambda: self.step_label(-1), NEXT_KEY: lambda: self.step_label(1),
                        NEXT_MISSING_KEY: self.next_missing})
        for key in self._viewer_keys - set(actions):
            self.viewer.bind_key(key, None)
        for key, action in actions.items():
            layer.bind_key(key, lambda _layer, a=action: a(), overwrite=True)
            self.viewer.bind_key(key, lambda _viewer, a=action: a(), overwrite=True)
        self._viewer_keys = set(actions)
        layer.bind_key("Control-Z", lambda _layer: self.undo(), overwrite=True)

    def detach(self) -> None:
        if self.layer is not None:
            self.layer.events.data.disconnect(self._on_data)
        self.layer = None
        self.geometry = None
        self.session = None
        self._refresh()

    # ---------------------------------------------------------------------------------- labelling
    def set_label(self, name: str) -> None:
        """Make ``name`` the label of the next clicks and put the points layer in add mode.

        With the select tool active and points selected, the selected points get the label instead (one
        undo step) and the tool stays as it is.
        """
        if name not in self.label_panel.names:
            return
        self._label = name
        self.label_panel.check(name)
        if self.layer is None:
            return
        self.session.set_label(name)
        if str(self.layer.mode) == "select" and self.layer.selected_data:
            self.relabel_selected(name)
            return
        self.layer.selected_data = set()  # a new label applies to new clicks, never to selected points
        self.layer.feature_defaults = {"label": name, "time_s": np.nan, "annotator": current_user()}
        self.viewer.layers.selection.active = self.layer
        self.layer.mode = "add"

    def step_label(self, step: int) -> None:
        """Pick the label ``step`` places after the current one (keys ``,`` and ``.``: -1 and +1)."""
        if self.session is not None:
            self.set_label(self.session.next_label(step))

    def next_missing(self) -> None:
        """Pick the next label still without points (key N)."""
        name = self.session.next_missing() if self.session is not None else None
        if name is not None:
            self.set_label(name)

    def relabel_selected(self, name: str) -> None:
        """Give the selected points the label ``name`` (their click times stay)."""
        rows = sorted(self.layer.selected_data)
        if not rows:
            return
        self.session.relabel(rows, name)
        self._show_session()
        self.layer.selected_data = set(rows)
        self._saved()

    def _on_data(self, event) -> None:
        """A change made in the layer (a click, a drag, a delete) goes to the session as one undo step."""
        if self._quiet or self.session is None:
            return
        action = _action(event)
        if action in EDITING:
            self._new_step = True  # one undo step per change, however many events a drag sends
            return
        new_step, self._new_step = self._new_step, False
        layer, session, geometry = self.layer, self.session, self.geometry
        data, before = np.asarray(layer.data), len(session)
        rows = [int(i) for i in (getattr(event, "data_indices", None) or ())]
        added = action == "added" and len(data) > before  # napari appends new points
        if added:
            labels = [str(v) for v in layer.features["label"][before:]]
            dropped = session.add(geometry.to_voxel(data[before:]), labels)
        elif action == "removed" and rows and len(data) == before - len(rows):
            session.delete(rows)
            dropped = 0
        elif action == "changed" and len(data) == before and rows:
            dropped = session.move(rows, geometry.to_voxel(data[rows]), new_step)
        else:  # anything else: the layer as it now is
            dropped = session.replace(points_from_layer(data, layer.features, geometry))
        if dropped:
            show_info("pointseg: a point outside the CT was not kept")
            self._show_session()
        elif added:  # the new points' click times and annotator, as the session stamped them
            new = list(range(before, len(data)))
            layer.features.loc[new, "time_s"] = session.points.time_s[before:]
            layer.features.loc[new, "annotator"] = session.points.annotator[before:]
        self._saved()

    def _show_session(self) -> None:
        """Make the layer show the session's points."""
        points = self.session.points
        self._quiet = True
        try:
            self.layer.data = self.geometry.to_display(points.ijk)
            self.layer.features = point_features(points, self.label_set)
            self.layer.refresh_colors(update_color_mapping=False)
        finally:
            self._quiet = False

    def undo(self) -> None:
        """Take back the last change (add, delete, move or relabel)."""
        if self.session is None or not self.session.undo():
            self.status.setText("Nothing to undo.")
            return
        self._show_session()
        self._saved()

    def delete_selected(self) -> None:
        if self.layer is None:
            return
        if not self.layer.selected_data:
            self.status.setText("Select points to delete first: key S, then click or drag a box.")
            return
        self.layer.remove_selected()

    # ------------------------------------------------------------------------------------- saving
    def save(self) -> Path | None:
        """Write the points atomically to their ``points.csv``."""
        if self.session is None:
            return None
        path = self.session.save()
        self._saved()
        return path

    def _saved(self) -> None:
        if self.save_error:  # a full disk or a read-only folder must not go unnoticed
            show_error(f"pointseg: could not save {self.points_path}: {self.save_error}")
        self._refresh()

    def _refresh(self) -> None:
        counts = self.counts()
        active = self.session is not None
        self.label_panel.show_state(counts, self.session.missing() if active else None)
        for widget in (self.delete_button, self.build_button):
            widget.setEnabled(active and self.worker is None)
        self.undo_button.setEnabled(active and self.session.can_undo)
        if not active:
            self.status.setText("")
            return
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
        self.view_box.show_view(name)

    def ct_layer(self) -> Image | None:
        return self.view_box.ct_layer()

    def set_window(self, preset: str) -> None:
        """Apply a CT window preset (a key of :data:`~pointseg.annotate.views.WINDOWS`) to the case's CT layer."""
        self.view_box.set_window(preset)

    # --------------------------------------------------------------------------------- pseudo-mask
    def build_pseudo_mask(self):
        """Start ``fuse`` for the open case in a worker thread; returns the worker (None when refused)."""
        if self.layer is None:
            return None
        return self.build_panel.build(self.case_dir, self.label_set)

    def cancel_build(self) -> None:
        self.build_panel.cancel()
