"""The Krita dialog, without Krita imports (tested on its own with PyQt6
offscreen): methods, built-in styles with thumbnails, settings, device,
new-layer option and a preview that refreshes when a setting changes.

`settings`: object with get(key, default) -> str and set(key, value);
`preview(options)`: returns (w, h, BGRA8 bytes) or raises RestyleError;
the dialog calls it 300 ms after the last change, in the UI thread (about
a second on a CPU at restyle_binding.PREVIEW_SIDE).
"""
import os
import sys

from .qt import QtCore, QtGui, QtWidgets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.normpath(os.path.join(HERE, "..", ".."))]
import restyle_binding as rb  # noqa: E402

W = QtWidgets
PRESERVE = (("No", "none"), ("Luminance only", "luminance"), ("Match colours", "histogram"))


def methods():
    """(label, method) pairs this installation can run."""
    found = [("Arbitrary (any style image)", "arbitrary"), ("Built-in styles (26)", "multistyle26"),
             ("Fast (a trained network)", "fast")]
    if rb.weights_file_exists(*rb.ADAIN_FILES):
        found.append(("AdaIN (any style image)", "adain"))
    found.append(("Gatys improved (slow, time budget)", "gatys-improved"))
    return found


def style_icons(names):
    """QIcons cut from the committed sprite, by style id (empty without it)."""
    path = rb.thumbnails_path()
    sprite = QtGui.QPixmap(path) if path else QtGui.QPixmap()
    if sprite.isNull():
        return [QtGui.QIcon() for _ in names]
    s = rb.THUMB_SIDE
    return [QtGui.QIcon(sprite.copy(i * s, 0, s, s)) for i in range(len(names))]


class RestyleDialog(W.QDialog):
    def __init__(self, settings, preview=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Neural Style Transfer (restyle)")
        self.settings, self.preview_fn = settings, preview
        get = settings.get
        self.method = W.QComboBox()
        for label, nick in methods():
            self.method.addItem(label, nick)
        self.method.setCurrentIndex(max(self.method.findData(get("method", "arbitrary")), 0))

        self.style = W.QLineEdit(get("style", ""))
        self.style.setMinimumWidth(260)
        browse = W.QPushButton("Browse...")
        browse.clicked.connect(self.browse)
        self.style_row = self._row(self.style, browse)

        self.names = rb.style_names()
        self.builtin = W.QListWidget()
        self.builtin.setViewMode(W.QListView.ViewMode.IconMode)
        self.builtin.setIconSize(QtCore.QSize(rb.THUMB_SIDE, rb.THUMB_SIDE))
        self.builtin.setGridSize(QtCore.QSize(rb.THUMB_SIDE + 46, rb.THUMB_SIDE + 30))
        self.builtin.setResizeMode(W.QListView.ResizeMode.Adjust)
        self.builtin.setMovement(W.QListView.Movement.Static)
        self.builtin.setWordWrap(True)
        self.builtin.setMinimumSize(5 * (rb.THUMB_SIDE + 46) + 24, 3 * (rb.THUMB_SIDE + 30) + 8)
        for name, icon in zip(self.names, style_icons(self.names)):
            self.builtin.addItem(W.QListWidgetItem(icon, name))
        self.builtin.setCurrentRow(max(0, self.names.index(get("builtin", self.names[0]))
                                       if get("builtin", "") in self.names else 0))

        # The networks the library finds (built-in first), then "a file", which
        # enables the path field. The setting keeps the model_path either way.
        self.fast = W.QComboBox()
        try:
            found = rb.fast_models()
        except rb.RestyleError:
            found = [("starry_night", "starry_night")]
        for name, path in found:
            self.fast.addItem(name + (" (built in)" if name == path else ""), path)
        self.fast.addItem("A file...", "")
        saved = get("model", "")
        at = self.fast.findData(saved) if saved else 0
        self.model = W.QLineEdit(saved if at < 0 else "")
        self.model.setPlaceholderText(".pth or .safetensors file")
        self.fast.setCurrentIndex(at if at >= 0 else self.fast.count() - 1)
        browse_model = W.QPushButton("Browse...")
        browse_model.clicked.connect(self.browse_model)
        self.model_row = self._row(self.fast, self.model, browse_model)
        self.fast.currentIndexChanged.connect(self.fast_chosen)
        self.fast_chosen()

        self.strength = W.QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(float(get("strength", "1.0")))
        self.preserve = W.QComboBox()
        for label, nick in PRESERVE:
            self.preserve.addItem(label, nick)
        self.preserve.setCurrentIndex(max(self.preserve.findData(get("preserve", "none")), 0))
        self.size = W.QSpinBox()
        self.size.setRange(0, 8192)
        self.size.setSpecialValueText("as is")
        self.size.setSuffix(" px")
        self.size.setValue(int(get("working_size", "0")))
        self.budget = W.QDoubleSpinBox()
        self.budget.setRange(1.0, 86400.0)
        self.budget.setSuffix(" s")
        self.budget.setValue(float(get("max_seconds", "120")))
        self.budget.setToolTip("Gatys improved: stop after this long with the best image so far")
        self.device = W.QComboBox()
        for d in rb.devices():
            self.device.addItem(d.upper() if d == "cpu" else "CUDA (GPU)", d)
        self.device.setCurrentIndex(max(self.device.findData(get("device", "cpu")), 0))
        self.new_layer = W.QCheckBox("Put the result on a new layer above")
        self.new_layer.setChecked(get("new_layer", "true") == "true")

        self.preview = W.QLabel("preview")
        self.preview.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.preview.setFixedSize(rb.PREVIEW_SIDE + 8, rb.PREVIEW_SIDE + 8)
        self.preview.setFrameShape(W.QFrame.Shape.StyledPanel)
        self.preview_status = W.QLabel("")
        self.preview_status.setWordWrap(True)
        self.preview_status.setMaximumWidth(rb.PREVIEW_SIDE + 8)
        self.previews = 0  # how many previews were shown (tests)

        form = self.form = W.QFormLayout()
        form.addRow("Method:", self.method)
        form.addRow("Style image:", self.style_row)
        form.addRow("Built-in style:", self.builtin)
        form.addRow("Fast network:", self.model_row)
        form.addRow("Time budget:", self.budget)
        form.addRow("Strength:", self.strength)
        form.addRow("Preserve colours:", self.preserve)
        form.addRow("Working size:", self.size)
        form.addRow("Device:", self.device)
        form.addRow("", self.new_layer)
        side = W.QVBoxLayout()
        side.addWidget(W.QLabel("Preview"))
        side.addWidget(self.preview)
        side.addWidget(self.preview_status)
        side.addStretch(1)
        top = W.QHBoxLayout()
        top.addLayout(form, 1)
        top.addLayout(side)
        outer = W.QVBoxLayout(self)
        outer.addLayout(top)
        buttons = W.QDialogButtonBox(W.QDialogButtonBox.StandardButton.Ok | W.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

        self.timer = QtCore.QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self.refresh_preview)
        for sig in (self.method.currentIndexChanged, self.preserve.currentIndexChanged, self.device.currentIndexChanged,
                    self.builtin.currentRowChanged, self.strength.valueChanged, self.style.editingFinished,
                    self.model.editingFinished, self.fast.currentIndexChanged):
            sig.connect(self.changed)
        self.method.currentIndexChanged.connect(self.update_rows)
        self.update_rows()
        self.changed()

    @staticmethod
    def _row(*widgets):
        box = W.QWidget()
        lay = W.QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            lay.addWidget(w)
        return box

    def update_rows(self):
        m = self.method.currentData()
        form = self.form
        for widget, shown in ((self.style_row, m in rb.STYLE_METHODS), (self.builtin, m == "multistyle26"),
                              (self.model_row, m == "fast"), (self.budget, m == "gatys-improved")):
            widget.setVisible(shown)
            label = form.labelForField(widget)
            if label is not None:
                label.setVisible(shown)
        self.adjustSize()

    def browse(self):
        path, _ = W.QFileDialog.getOpenFileName(self, "Style image", self.style.text(),
                                                "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)")
        if path:
            self.style.setText(path)
            self.changed()

    def browse_model(self):
        path, _ = W.QFileDialog.getOpenFileName(self, "Fast style network", self.model.text(),
                                                "Networks (*.pth *.safetensors)")
        if path:
            self.model.setText(path)
            self.fast.setCurrentIndex(self.fast.count() - 1)
            self.changed()

    def fast_chosen(self, *_):
        self.model.setEnabled(not self.fast.currentData())

    def model_path(self):
        """The fast network chosen: a found one's model_path, or the file typed."""
        return self.fast.currentData() or self.model.text()

    def changed(self, *_):
        if self.preview_fn is not None:
            self.timer.start()

    def refresh_preview(self):
        try:
            w, h, px = self.preview_fn(self.options())
        except rb.RestyleError as e:
            self.preview.setPixmap(QtGui.QPixmap())
            self.preview.setText("no preview")
            self.preview_status.setText(str(e)[:200])
            return
        img = QtGui.QImage(bytes(px), w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32).copy()  # BGRA8 = ARGB32 LE
        self.preview.setPixmap(QtGui.QPixmap.fromImage(img))
        self.preview_status.setText("%d x %d" % (w, h))
        self.previews += 1

    def options(self):
        """Keyword arguments of restyle_binding.Context.stylize."""
        m = self.method.currentData()
        o = {"method": m, "strength": self.strength.value(), "preserve_color": self.preserve.currentData(),
             "working_size": self.size.value(), "device": self.device.currentData()}
        if m in rb.STYLE_METHODS:
            o["style_path"] = self.style.text()
        if m == "multistyle26":
            o["builtin_style"] = self.names[max(self.builtin.currentRow(), 0)]
        if m == "fast" and self.model_path():
            o["model_path"] = self.model_path()
        if m == "gatys-improved":
            o["max_seconds"] = self.budget.value()
        return o

    def save(self):
        s = self.settings.set
        s("method", self.method.currentData())
        s("style", self.style.text())
        s("builtin", self.names[max(self.builtin.currentRow(), 0)])
        s("model", self.model_path())
        s("strength", str(self.strength.value()))
        s("preserve", self.preserve.currentData())
        s("working_size", str(self.size.value()))
        s("max_seconds", str(self.budget.value()))
        s("device", self.device.currentData())
        s("new_layer", "true" if self.new_layer.isChecked() else "false")
