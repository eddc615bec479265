"""GUI self-test, run inside Krita when RESTYLE_SELFTEST_OUT is set (CI:
.ci/plugins.sh under Xvfb). Drives the real menu action and dialog on the
opened image with a selection; prints RESTYLE-KRITA-GUI lines:
 1. default run: the dialog's preview appears with the document untouched,
    the result lands on a new layer (source identical), one undo removes it;
 2. in-place run (new layer unticked), exported for verify.py; two undos
    restore the layer;
 3. cancel clicked mid-run (Gatys improved): image unchanged;
 4. a missing style file: error box, layer unchanged, Krita keeps going."""
import os

from krita import InfoObject, Krita, Selection

from .qt import QtCore, QtWidgets

W = QtWidgets


def autoclose_modal():
    """Dismiss the next modal box (an error message) so the run can go on,
    saving it as RESTYLE_SCREENSHOT_ERROR when set."""
    def close():
        box = W.QApplication.activeModalWidget()
        if box is None:
            return
        shot = os.environ.get("RESTYLE_SCREENSHOT_ERROR")
        if shot:
            box.grab().save(shot, "PNG")
        print("RESTYLE-KRITA-GUI message box:", box.windowTitle(), flush=True)
        box.close()
    QtCore.QTimer.singleShot(1500, close)


def paint_layers(doc):
    return [n for n in doc.topLevelNodes() if n.type() == "paintlayer"]


def run(ext):
    import sys
    import traceback
    # An error in a callback would open Krita's modal error box and stall the run: print it.
    sys.excepthook = lambda t, v, tb: print("RESTYLE-KRITA-GUI exception:", "".join(traceback.format_exception(t, v, tb)), flush=True)
    k = Krita.instance()
    doc = k.activeDocument()
    node = doc.activeNode()
    out = os.environ["RESTYLE_SELFTEST_OUT"]
    style = os.environ.get("RESTYLE_SELFTEST_STYLE", "")
    x, y, w, h = (int(v) for v in os.environ.get("RESTYLE_SELFTEST_SEL", "16,12,64,40").split(","))
    sel = Selection()
    sel.select(x, y, w, h, 255)
    doc.setSelection(sel)
    full = lambda n: bytes(n.pixelData(0, 0, doc.width(), doc.height()))
    before = full(node)

    def fill(method="arbitrary", style_path=style, new_layer=True, wait_preview=False, shot=None, budget=None,
             builtin=None):
        def setup(dlg):
            print("RESTYLE-KRITA-GUI dialog open:", method, flush=True)
            dlg.method.setCurrentIndex(dlg.method.findData(method))
            dlg.style.setText(style_path)
            dlg.new_layer.setChecked(new_layer)
            if budget:
                dlg.budget.setValue(budget)
            if builtin:
                dlg.builtin.setCurrentRow(dlg.names.index(builtin))
            dlg.changed()
            waited = [0]

            def poll():
                waited[0] += 1
                if wait_preview and dlg.previews == 0 and waited[0] < 150:
                    QtCore.QTimer.singleShot(200, poll)
                    return
                if wait_preview:
                    print("RESTYLE-KRITA-GUI preview shown: %s, document unchanged: %s"
                          % (dlg.previews > 0, full(node) == before and len(paint_layers(doc)) == 1), flush=True)
                print("RESTYLE-KRITA-GUI accepting the dialog", flush=True)
                if shot:
                    dlg.grab().save(shot, "PNG")
                dlg.accept()
            QtCore.QTimer.singleShot(500, poll)
        ext.selftest_options = setup

    # 1. defaults: new layer, with the preview
    fill(wait_preview=True, shot=os.environ.get("RESTYLE_SCREENSHOT"))
    k.action("restyle_stylize").trigger()
    doc.waitForDone()
    layers = paint_layers(doc)
    ok = (len(layers) == 2 and full(layers[0]) == before and full(layers[1]) != before
          and layers[1].name() == "restyle: " + os.path.splitext(os.path.basename(style))[0])
    print("RESTYLE-KRITA-GUI new layer: error %s, layers %s, source identical and result on the new layer: %s"
          % (ext.last_error, [n.name() for n in layers], ok), flush=True)
    k.action("edit_undo").trigger()
    doc.waitForDone()
    layers = paint_layers(doc)
    print("RESTYLE-KRITA-GUI undo removes the new layer:", len(layers) == 1 and full(layers[0]) == before, flush=True)

    # 2. in place, a built-in style chosen by name
    node = paint_layers(doc)[0]
    doc.setActiveNode(node)
    fill(method="multistyle26", builtin="crimson", new_layer=False, wait_preview=True,
         shot=os.environ.get("RESTYLE_SCREENSHOT_BUILTIN"))
    k.action("restyle_stylize").trigger()
    doc.waitForDone()
    node = paint_layers(doc)[0]  # the merged result replaces the layer
    print("RESTYLE-KRITA-GUI action error:", ext.last_error, "changed:", full(node) != before, flush=True)
    doc.setBatchmode(True)
    print("RESTYLE-KRITA-GUI exported", doc.exportImage(out, InfoObject()), out, flush=True)
    doc.setBatchmode(False)
    for _ in range(2):  # add copy + merge down
        k.action("edit_undo").trigger()
        doc.waitForDone()
    layers = paint_layers(doc)
    print("RESTYLE-KRITA-GUI undo restores the layer:", len(layers) == 1 and full(layers[0]) == before, flush=True)

    # 3. cancel mid-run, in both modes
    print("RESTYLE-KRITA-GUI cancel step", flush=True)
    node = paint_layers(doc)[0]
    doc.setActiveNode(node)
    for new_layer in (True, False):
        fill(method="gatys-improved", new_layer=new_layer, budget=120.0)

        def click_cancel():
            dlg = getattr(ext, "progress_dialog", None)
            if dlg is not None and dlg.isVisible():
                print("RESTYLE-KRITA-GUI progress says:", ascii(dlg.labelText()), flush=True)
                dlg.cancel()
            else:
                print("RESTYLE-KRITA-GUI waiting for the progress dialog", dlg, flush=True)
                QtCore.QTimer.singleShot(500, click_cancel)
        QtCore.QTimer.singleShot(4000, click_cancel)
        k.action("restyle_stylize").trigger()
        doc.waitForDone()
        layers = paint_layers(doc)
        print("RESTYLE-KRITA-GUI cancel (new layer %s): %s, image unchanged: %s"
              % (new_layer, ext.last_error, len(layers) == 1 and full(layers[0]) == before), flush=True)

    # 4. a missing style file: message box, layer unchanged, Krita still running
    fill(style_path="/nonexistent/style.jpg", new_layer=False)
    k.action("restyle_stylize").trigger()
    doc.waitForDone()
    layers = paint_layers(doc)
    print("RESTYLE-KRITA-GUI missing style: error %r, layer unchanged: %s"
          % (ext.last_error, len(layers) == 1 and full(layers[0]) == before), flush=True)
    doc.setModified(False)  # no "save changes?" prompt
    QtCore.QTimer.singleShot(500, k.action("file_quit").trigger)  # QApplication.quit() segfaults in 5.1


def menu_check():
    """Prints where the filter's action sits in the main window's menus, then quits."""
    k = Krita.instance()
    found = []

    def walk(menu, path):
        for a in menu.actions():
            if a.menu() is not None:
                walk(a.menu(), path + [a.text().replace("&", "")])
            elif a.objectName() == "restyle_stylize":
                found.append(" > ".join(path + [a.text().replace("&", "")]))
    win = k.activeWindow()
    if win is not None:
        for a in win.qwindow().menuBar().actions():
            if a.menu() is not None:
                walk(a.menu(), [a.text().replace("&", "")])
    print("RESTYLE-KRITA-MENU %s" % (found or "not found"), flush=True)
    QtCore.QTimer.singleShot(500, k.action("file_quit").trigger)
