"""Menu action Tools > Scripts > Neural Style Transfer (restyle)..., its
dialog (dialog.py), and progress with Cancel."""
import os

from krita import Extension, InfoObject, Krita

from .qt import QtCore, QtWidgets
from . import engine
from .dialog import RestyleDialog

rb = engine.rb
W = QtWidgets
ACTION = "restyle_stylize"
SETTINGS = "restyle"


class KritaSettings:
    """The dialog's settings in kritarc, group [restyle]."""

    def get(self, key, default):
        return Krita.instance().readSetting(SETTINGS, key, default)

    def set(self, key, value):
        Krita.instance().writeSetting(SETTINGS, key, value)


class RestyleExtension(Extension):
    context = None  # one restyle context (loaded networks) for the whole session
    selftest_options = None
    last_error = None

    def setup(self):
        # CI hook (.ci/plugins.sh): RESTYLE_SELFTEST_OUT=/out.png krita in.png
        if os.environ.get("RESTYLE_SELFTEST_OUT"):
            from . import selftest
            Krita.instance().notifier().windowCreated.connect(
                lambda: QtCore.QTimer.singleShot(3000, lambda: selftest.run(self)))

        if os.environ.get("RESTYLE_SELFTEST_MENU"):  # CI: is the filter in the menu after an import?
            from . import selftest
            Krita.instance().notifier().windowCreated.connect(
                lambda: QtCore.QTimer.singleShot(2000, selftest.menu_check))

    def createActions(self, window):
        action = window.createAction(ACTION, "Neural Style Transfer (restyle)...", "tools/scripts")
        action.triggered.connect(self.run)

    def ctx(self):
        if self.context is None:
            self.context = rb.Context()
        return self.context

    def run(self):
        k = Krita.instance()
        doc, win = k.activeDocument(), k.activeWindow()
        parent = win.qwindow() if win else None
        if doc is None or doc.activeNode() is None:
            W.QMessageBox.warning(parent, "restyle", "Open an image and select a paint layer first.")
            return False
        node = doc.activeNode()
        self.last_error = None
        try:
            context = self.ctx()
        except rb.RestyleError as e:
            return self.error(parent, str(e))

        def preview(options):
            return engine.preview(doc, node, options, context)

        dlg = RestyleDialog(KritaSettings(), preview, parent)
        self.dialog = dlg
        if self.selftest_options is not None:
            self.selftest_options(dlg)  # the self-test fills the dialog and accepts it
        accepted = dlg.exec() == W.QDialog.DialogCode.Accepted
        dlg.timer.stop()  # no preview may start inside the run (it would re-enter the context)
        if not accepted:
            return False
        dlg.save()
        options, new_layer = dlg.options(), dlg.new_layer.isChecked()
        progress_dlg = W.QProgressDialog("Starting...", "Cancel", 0, 1000, parent)
        progress_dlg.setWindowTitle("restyle")
        progress_dlg.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        progress_dlg.setMinimumDuration(0)
        self.progress_dialog = progress_dlg

        def progress(stage, fraction):
            # "loading networks" comes before a network loads (seconds).
            progress_dlg.setLabelText("Loading the networks..." if stage == "loading networks" else "Stylizing: %s" % stage)
            progress_dlg.setValue(int(fraction * 1000))
            W.QApplication.processEvents()  # keeps the UI alive and lets Cancel be clicked
            return progress_dlg.wasCanceled()

        try:
            self.result = engine.stylize_node(doc, node, options, progress, context, new_layer=new_layer)
        except rb.RestyleError as e:
            progress_dlg.close()
            if e.cancelled:
                self.last_error = "cancelled"
                return False
            return self.error(parent, str(e))
        progress_dlg.close()
        return True

    def error(self, parent, msg):
        self.last_error = msg
        if os.environ.get("RESTYLE_SELFTEST_OUT"):
            from . import selftest
            selftest.autoclose_modal()
        W.QMessageBox.critical(parent, "restyle", msg)
        return False


__all__ = ["RestyleExtension", "InfoObject"]
