"""The widget's *Label* box: one button per label of the label set, in its colour, with its key and count.

Keys 1–9 pick the foreground labels in order (L1–L5 in ``lumbar``) and 0 background.
"""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QButtonGroup, QGridLayout, QGroupBox, QPushButton

from pointseg.labels import LabelSet


def hotkeys(label_set: LabelSet) -> dict[str, str]:
    """Label → its key: 1–9 for the first nine foreground labels, 0 for background."""
    keys = {name: str(n) for n, name in enumerate(label_set.foreground[:9], start=1)}
    return {**keys, "background": "0"}


class LabelBox(QGroupBox):
    """Label buttons; a click emits :attr:`picked` with the label."""

    picked = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Label", parent)
        self.grid = QGridLayout(self)
        self.grid.setSpacing(4)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        self.keys: dict[str, str] = {}

    def set_label_set(self, label_set: LabelSet) -> None:
        """One button per label of ``label_set`` (foreground first, background last)."""
        for button in self.buttons.values():
            self.group.removeButton(button)
            button.deleteLater()
        self.buttons = {}
        self.keys = hotkeys(label_set)
        last_key = self.keys.get(label_set.foreground[-1], "9")
        self.setTitle(f"Label  (keys 1–{last_key}, 0 background)")
        for row, name in enumerate(list(label_set.foreground) + ["background"]):
            red, green, blue = label_set.color_of(name)
            button = QPushButton()
            button.setCheckable(True)
            button.setMinimumHeight(26)
            button.setStyleSheet(
                "QPushButton { text-align: left; padding: 3px 8px; border-radius: 3px;"
                f" border-left: 10px solid rgb({red},{green},{blue}); }}"
                f"QPushButton:checked {{ background-color: rgba({red},{green},{blue},110); font-weight: bold; }}"
            )
            button.clicked.connect(lambda _=False, n=name: self.picked.emit(n))
            key = self.keys.get(name, "")
            button.setToolTip(f"{'Key ' + key + ': ' if key else ''}clicks in the view add {name} points; "
                              "with points selected (key S), gives them this label")
            self.group.addButton(button)
            self.grid.addWidget(button, row // 2, row % 2)
            self.buttons[name] = button

    def check(self, name: str) -> None:
        self.buttons[name].setChecked(True)

    def show_counts(self, counts: dict[str, int]) -> None:
        """Write each label's key, name and number of points on its button."""
        for name, button in self.buttons.items():
            key = self.keys.get(name, "")
            button.setText(f"{key + '   ' if key else ''}{name}    {counts.get(name, 0)}")
