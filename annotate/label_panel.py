"""The widget's label section: how a label is picked, and which labels are still without points.

Label sets of up to :data:`MAX_BUTTONS` labels (``lumbar``: L1–L5 and background) get one button per label
(:class:`~pointseg.annotate.label_box.LabelBox`, keys 1–9 and 0); larger ones (``spine``, ``ribs``,
``bones``) get the searchable :class:`~pointseg.annotate.label_picker.LabelPicker` (key 0 still picks
background) and a strip of the labels still without points, where a click picks one. In every set
``,``/``.`` pick the previous/next label and ``N`` the next one still without points; napari binds none
of these keys.
"""

from __future__ import annotations

from qtpy.QtCore import QSize, Signal
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pointseg.annotate.label_box import LabelBox
from pointseg.annotate.label_picker import MISSING_COLOR, LabelPicker, swatch
from pointseg.labels import BACKGROUND, LabelSet

MAX_BUTTONS = 10  # labels, background included; larger sets get the picker
PREVIOUS_KEY, NEXT_KEY, NEXT_MISSING_KEY = ",", ".", "N"
DONE_COLOR = "#5fd068"
MISSING_ROWS = 3  # rows of the missing strip shown before it scrolls


class LabelPanel(QWidget):
    """Label buttons or picker, the hint line and the missing strip; a pick emits :attr:`picked`."""

    picked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.label_set: LabelSet | None = None
        self.buttons = LabelBox()
        self.picker = LabelPicker()
        self.picker.hide()
        for chooser in (self.buttons, self.picker):
            chooser.picked.connect(self.picked)
            layout.addWidget(chooser)

        self.keys_help = QLabel(f"<b>{PREVIOUS_KEY}</b> <b>{NEXT_KEY}</b> previous / next label &nbsp;·&nbsp; "
                                f"<b>{NEXT_MISSING_KEY}</b> next without points &nbsp;·&nbsp; "
                                "with points selected (S), a pick relabels them")
        self.keys_help.setWordWrap(True)
        self.keys_help.setStyleSheet("color: #9aa0a6;")
        layout.addWidget(self.keys_help)
        hint_row = QHBoxLayout()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.next_missing_button = QPushButton(f"Next  ({NEXT_MISSING_KEY})")
        self.next_missing_button.setToolTip("Pick the next label still without points")
        hint_row.addWidget(self.hint, 1)
        hint_row.addWidget(self.next_missing_button)
        layout.addLayout(hint_row)

        self.missing_list = QListWidget()  # the labels without points, as wrapping chips
        self.missing_list.setFlow(QListView.Flow.LeftToRight)
        self.missing_list.setWrapping(True)
        self.missing_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.missing_list.setIconSize(QSize(10, 10))
        self.missing_list.setToolTip("Still without points; a click picks the label")
        self.missing_list.itemClicked.connect(lambda item: self.picked.emit(item.text()))
        self.missing_list.hide()
        layout.addWidget(self.missing_list)
        self._missing: list[str] = []

    @property
    def large(self) -> bool:
        """Whether the label set is too large for buttons."""
        return self.label_set is not None and self.label_set.num_classes > MAX_BUTTONS

    @property
    def chooser(self) -> LabelBox | LabelPicker:
        return self.picker if self.large else self.buttons

    @property
    def names(self) -> tuple[str, ...]:
        """The labels that can be picked (none before a label set is given)."""
        return self.label_set.names if self.label_set is not None else ()

    @property
    def keys(self) -> dict[str, str]:
        """Label → its key (digits, as the chooser shown gives them)."""
        return self.chooser.keys

    def set_label_set(self, label_set: LabelSet) -> None:
        """Buttons or the picker for ``label_set``, as its size asks."""
        self.label_set = label_set
        self.chooser.set_label_set(label_set)
        self.buttons.setVisible(not self.large)
        self.picker.setVisible(self.large)
        self._missing = []
        self.missing_list.clear()
        metrics = self.missing_list.fontMetrics()  # a grid of chips as wide as the longest name
        cell = QSize(max(metrics.horizontalAdvance(name) for name in label_set.names) + 30, metrics.height() + 6)
        self.missing_list.setGridSize(cell)
        self.missing_list.setFixedHeight(MISSING_ROWS * cell.height() + 2 * self.missing_list.frameWidth() + 2)

    def check(self, name: str) -> None:
        """Show ``name`` as the label picked."""
        self.chooser.check(name)

    def show_state(self, counts: dict[str, int], missing: list[str] | None) -> None:
        """Each label's number of points and the labels still ``missing`` (None: no case open)."""
        self.chooser.show_counts(counts)
        self.next_missing_button.setEnabled(bool(missing))
        self._show_missing((missing or []) if self.large else [])
        if missing is None:
            self.hint.setText("")
            return
        color = MISSING_COLOR
        if missing and self.large:
            text = f"Without points: {len(missing)} of {len(self.label_set.foreground)}"
        elif missing:
            text = "Still without points: " + ", ".join(missing)
        elif counts.get(BACKGROUND, 0) == 0:
            text = "Every structure has points; add a few background clicks (key 0) too."
        else:
            text, color = "Every label has points.", DONE_COLOR
        self.hint.setText(text)
        self.hint.setStyleSheet(f"color: {color};")

    def _show_missing(self, missing: list[str]) -> None:
        if missing != self._missing:
            self.missing_list.clear()
            for name in missing:
                self.missing_list.addItem(QListWidgetItem(swatch(self.label_set.color_of(name), 10), name))
            self._missing = list(missing)
        self.missing_list.setVisible(bool(missing))
