"""The widget's *Label* picker for label sets too large for buttons: a filter above a list of the labels.

Each row shows the label's colour, name and number of points; the labels come by group
(:meth:`~pointseg.labels.LabelSet.groups`), each under a header with how many of its labels have points,
background last. Typing filters the rows (case-insensitive; ``rib l`` finds ``rib_left_*``), Up/Down move
through the rows shown, Enter or a click picks one.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, Qt, Signal
from qtpy.QtGui import QColor, QFont, QIcon, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QVBoxLayout,
)

from pointseg.labels import BACKGROUND, LabelSet

NAME_ROLE = Qt.ItemDataRole.UserRole
COUNT_ROLE = Qt.ItemDataRole.UserRole + 1
MISSING_COLOR = "#f0b429"  # the hint's colour for labels still without points


def swatch(rgb: tuple[int, int, int], size: int = 12) -> QIcon:
    """A square of the label's colour."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*rgb))
    return QIcon(pixmap)


def _font(bold: bool) -> QFont:
    font = QFont()
    font.setBold(bold)
    return font


def matches(name: str, text: str) -> bool:
    """Whether the filter ``text`` finds ``name``: a case-insensitive substring, spaces standing for ``_``."""
    return text.strip().lower().replace(" ", "_") in name.lower()


class _CountDelegate(QStyledItemDelegate):
    """Draws a row's number of points at its right edge, amber while a foreground label has none."""

    def paint(self, painter, option, index):
        super().paint(painter, option, index)
        count = index.data(COUNT_ROLE)
        if count is None:
            return
        painter.save()
        missing = count == 0 and index.data(NAME_ROLE) != BACKGROUND
        painter.setPen(QColor(MISSING_COLOR) if missing else option.palette.color(option.palette.ColorRole.Text))
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(option.rect.adjusted(0, 0, -10, 0), align, str(count))
        painter.restore()


class LabelPicker(QGroupBox):
    """Filter + list of the labels; picking a row emits :attr:`picked` with its label."""

    picked = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Label", parent)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter (rib_l, t7 …); Enter picks")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter)
        self.filter_edit.returnPressed.connect(self._pick_current)
        self.filter_edit.installEventFilter(self)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setItemDelegate(_CountDelegate(self.list))
        self.list.setMinimumHeight(300)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setStyleSheet("QListWidget::item { padding: 1px 2px; }")
        self.list.itemClicked.connect(self._pick)
        self.list.itemActivated.connect(self._pick)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list)
        self.items: dict[str, QListWidgetItem] = {}
        self.headers: dict[str, tuple[QListWidgetItem, tuple[str, ...]]] = {}
        self.keys = {BACKGROUND: "0"}
        self.current: str | None = None

    def set_label_set(self, label_set: LabelSet) -> None:
        """One row per label of ``label_set``: each group's header, then its labels; background last."""
        self.items, self.headers, self.current = {}, {}, None
        self.filter_edit.clear()
        self.list.clear()
        self.setTitle(f"Label  ({len(label_set.foreground)} structures and background)")
        for group, names in label_set.groups().items():
            header = QListWidgetItem()
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            header.setFont(_font(bold=True))
            self.list.addItem(header)
            self.headers[group] = (header, names)
            for name in names:
                self._add_row(label_set, name)
        self._add_row(label_set, BACKGROUND)
        self.show_counts({})

    def _add_row(self, label_set: LabelSet, name: str) -> None:
        item = QListWidgetItem(swatch(label_set.color_of(name)), name)
        item.setData(NAME_ROLE, name)
        item.setToolTip(f"Clicks in the view add {name} points; with points selected (key S), gives them this label")
        self.list.addItem(item)
        self.items[name] = item

    def check(self, name: str) -> None:
        """Show ``name`` as the label picked (the filter is cleared when it hides the row)."""
        item = self.items[name]
        if item.isHidden():
            self.filter_edit.clear()
        if self.current in self.items:
            self.items[self.current].setFont(_font(bold=False))
        item.setFont(_font(bold=True))
        self.current = name
        self._scroll_to(item)
        self.list.setCurrentItem(item)

    def show_counts(self, counts: dict[str, int]) -> None:
        """Each row's number of points, and each group's number of labels with points."""
        for name, item in self.items.items():
            item.setData(COUNT_ROLE, counts.get(name, 0))
        for group, (header, names) in self.headers.items():
            done = sum(counts.get(name, 0) > 0 for name in names)
            header.setText(f"{group.replace('_', ' ')}  ({done} of {len(names)} with points)")

    def visible(self) -> list[str]:
        """The labels the filter shows, in list order."""
        rows = (self.list.item(row) for row in range(self.list.count()))
        return [item.data(NAME_ROLE) for item in rows if item.data(NAME_ROLE) and not item.isHidden()]

    # ------------------------------------------------------------------------------------ events
    def _filter(self, text: str) -> None:
        for name, item in self.items.items():
            item.setHidden(not matches(name, text))
        for header, names in self.headers.values():
            header.setHidden(all(self.items[name].isHidden() for name in names))
        shown = self.visible()
        target = self.current if self.current in shown else (shown[0] if shown else None)
        if target is not None:  # what Enter picks
            self._scroll_to(self.items[target])
            self.list.setCurrentItem(self.items[target])

    def _scroll_to(self, item: QListWidgetItem) -> None:
        """Scroll a row out of sight to the middle of the list (with the rows around it); before making it the
        current row, which would scroll it just into sight."""
        if not self.list.viewport().rect().contains(self.list.visualItemRect(item)):
            self.list.scrollToItem(item, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _move(self, step: int) -> None:
        shown = self.visible()
        if not shown:
            return
        current = self.list.currentItem()
        name = current.data(NAME_ROLE) if current is not None else None
        row = shown.index(name) + step if name in shown else 0
        item = self.items[shown[max(0, min(row, len(shown) - 1))]]
        self._scroll_to(item)
        self.list.setCurrentItem(item)

    def _pick_current(self) -> None:
        current = self.list.currentItem()
        if current is not None and not current.isHidden() and current.data(NAME_ROLE):
            self._pick(current)
            self.filter_edit.selectAll()  # typing again starts a new search

    def _pick(self, item: QListWidgetItem) -> None:
        name = item.data(NAME_ROLE)
        if name:
            self.picked.emit(name)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up/Down in the filter move through the rows shown."""
        if watched is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            step = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1}.get(event.key())
            if step is not None:
                self._move(step)
                return True
        return super().eventFilter(watched, event)
