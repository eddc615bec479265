"""Menu action Tools > Scripts > Neural Style Transfer (restyle)..., its
dialog, and progress with Cancel."""
import os

from krita import Extension, InfoObject, Krita
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                             QFormLayout, QHBoxLayout, QLineEdit, QMessageBox, QProgressDialog, QPushButton, QWidget)

from . import engine

ACTION = "restyle_stylize"
SETTINGS = "restyle"


class RestyleDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Neural Style Transfer (restyle)")
        k = Krita.instance()
        self.style = QLineEdit(k.readSetting(SETTINGS, "style", ""))
        self.style.setMinimumWidth(320)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.style)
        row.addWidget(browse)
        style_row = QWidget()
        style_row.setLayout(row)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(float(k.readSetting(SETTINGS, "strength", "1.0")))
        self.preserve = QComboBox()
        for label, nick in (("No", "none"), ("Luminance only", "luminance"), ("Match colours", "histogram")):
            self.preserve.addItem(label, nick)
        self.method = QComboBox()
        for label, nick in (("Arbitrary (fast)", "arbitrary"), ("Gatys improved (slow, time budget)", "gatys-improved")):
            self.method.addItem(label, nick)
        self.method.setCurrentIndex(max(self.method.findData(k.readSetting(SETTINGS, "method", "arbitrary")), 0))
        self.budget = QDoubleSpinBox()
        self.budget.setRange(1.0, 86400.0)
        self.budget.setSuffix(" s")
        self.budget.setValue(float(k.readSetting(SETTINGS, "max_seconds", "120")))
        self.budget.setToolTip("Gatys improved: stop after this long with the best image so far")
        form = QFormLayout(self)
        form.addRow("Method:", self.method)
        form.addRow("Time budget:", self.budget)
        form.addRow("Style image:", style_row)
        form.addRow("Strength:", self.strength)
        form.addRow("Preserve colours:", self.preserve)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def browse(self):
        path, _ = QFileDialog.getOpenFileName(self, "Style image", self.style.text(),
                                              "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)")
        if path:
            self.style.setText(path)

    def options(self):
        k = Krita.instance()
        k.writeSetting(SETTINGS, "style", self.style.text())
        k.writeSetting(SETTINGS, "strength", str(self.strength.value()))
        k.writeSetting(SETTINGS, "method", self.method.currentData())
        k.writeSetting(SETTINGS, "max_seconds", str(self.budget.value()))
        gatys = self.method.currentData() == "gatys-improved"
        return {"method": self.method.currentData(), "style_path": self.style.text(), "strength": self.strength.value(),
                "preserve_color": self.preserve.currentData(), "max_seconds": self.budget.value() if gatys else 0.0}


class RestyleExtension(Extension):
    def setup(self):
        # CI hook (.ci/plugins.sh): RESTYLE_SELFTEST_OUT=/out.png krita in.png
        if os.environ.get("RESTYLE_SELFTEST_OUT"):
            Krita.instance().notifier().windowCreated.connect(lambda: QTimer.singleShot(3000, self.selftest))

    def createActions(self, window):
        action = window.createAction(ACTION, "Neural Style Transfer (restyle)...", "tools/scripts")
        action.triggered.connect(self.run)

    def run(self):
        k = Krita.instance()
        doc, win = k.activeDocument(), k.activeWindow()
        parent = win.qwindow() if win else None
        if doc is None or doc.activeNode() is None:
            QMessageBox.warning(parent, "restyle", "Open an image and select a paint layer first.")
            return False
        dlg = RestyleDialog(parent)
        shot = os.environ.get("RESTYLE_SCREENSHOT")
        if os.environ.get("RESTYLE_SELFTEST_OUT"):
            dlg.style.setText(self.selftest_style)

            def grab_and_accept():
                if shot and self.selftest_style == os.environ.get("RESTYLE_SELFTEST_STYLE"):
                    dlg.grab().save(shot, "PNG")
                dlg.accept()
            QTimer.singleShot(1500, grab_and_accept)
        if dlg.exec_() != QDialog.Accepted:
            return False
        progress_dlg = QProgressDialog("Stylizing...", "Cancel", 0, 1000, parent)
        progress_dlg.setWindowModality(Qt.WindowModal)
        progress_dlg.setMinimumDuration(0)

        def progress(stage, fraction):
            progress_dlg.setLabelText("Stylizing: %s" % stage)
            progress_dlg.setValue(int(fraction * 1000))
            QApplication.processEvents()  # keeps the UI alive and lets Cancel be clicked
            return progress_dlg.wasCanceled()

        try:
            engine.stylize_node(doc, doc.activeNode(), dlg.options(), progress)
        except engine.rb.RestyleError as e:
            progress_dlg.close()
            if not e.cancelled:
                if os.environ.get("RESTYLE_SELFTEST_OUT"):
                    self.autoclose_modal()
                QMessageBox.critical(parent, "restyle", str(e))
            self.last_error = str(e)
            return False
        progress_dlg.close()
        self.last_error = None
        return True

    selftest_style = ""

    def autoclose_modal(self):
        """Self-test only: dismiss the next modal box (an error message) so the
        run can go on, saving it as RESTYLE_SCREENSHOT_ERROR when set."""
        def close():
            box = QApplication.activeModalWidget()
            if box is None:
                return
            shot = os.environ.get("RESTYLE_SCREENSHOT_ERROR")
            if shot:
                box.grab().save(shot, "PNG")
            print("RESTYLE-KRITA-GUI message box:", box.windowTitle(), flush=True)
            box.close()
        QTimer.singleShot(1500, close)

    def selftest(self):
        """Runs the real menu action on the opened image with a selection and
        exports the result; prints RESTYLE-KRITA-GUI lines for the CI."""
        from krita import Selection
        out = os.environ["RESTYLE_SELFTEST_OUT"]
        k = Krita.instance()
        doc = k.activeDocument()
        node = doc.activeNode()
        x, y, w, h = (int(v) for v in os.environ.get("RESTYLE_SELFTEST_SEL", "16,12,64,40").split(","))
        sel = Selection()
        sel.select(x, y, w, h, 255)
        doc.setSelection(sel)
        before = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
        self.last_error = "not run"
        self.selftest_style = os.environ.get("RESTYLE_SELFTEST_STYLE", "")
        k.action(ACTION).trigger()  # the real menu action, dialog included
        doc.waitForDone()
        layers = lambda: [n for n in doc.topLevelNodes() if n.type() == "paintlayer"]
        node = layers()[0]  # the merged result replaces the layer
        after = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
        print("RESTYLE-KRITA-GUI action error:", self.last_error, "changed:", before != after, flush=True)
        doc.setBatchmode(True)
        ok = doc.exportImage(out, InfoObject())
        print("RESTYLE-KRITA-GUI exported", ok, out, flush=True)
        for _ in range(2):  # add copy + merge down
            k.action("edit_undo").trigger()
            doc.waitForDone()
        nodes = layers()
        undone = bytes(nodes[0].pixelData(0, 0, doc.width(), doc.height()))
        print("RESTYLE-KRITA-GUI undo restores the layer:", len(nodes) == 1 and undone == before, flush=True)
        k.action("edit_redo").trigger()
        k.action("edit_redo").trigger()
        doc.waitForDone()
        node = layers()[0]
        # A missing style file: message box, layer unchanged, Krita still running.
        current = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
        self.selftest_style = "/nonexistent/style.jpg"
        k.action(ACTION).trigger()
        doc.waitForDone()
        unchanged = bytes(node.pixelData(0, 0, doc.width(), doc.height())) == current
        print("RESTYLE-KRITA-GUI missing style: error %r, layer unchanged: %s" % (self.last_error, unchanged), flush=True)
        doc.setModified(False)  # no "save changes?" prompt
        QTimer.singleShot(500, k.action("file_quit").trigger)  # QApplication.quit() segfaults in 5.1
