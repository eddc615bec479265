#!/usr/bin/env python3
"""The Krita plug-in's dialog (plugin/krita/restyle/dialog.py) outside Krita,
headless (QT_QPA_PLATFORM=offscreen), with PyQt6 (Krita 6's binding: from
PyPI in a venv .ci/plugins.sh makes) or PyQt5 (Krita 5's): RESTYLE_QT=6|5.

  RESTYLE_QT=6 QT_QPA_PLATFORM=offscreen RESTYLE_LIB=... RESTYLE_WEIGHTS_DIR=... \\
    python dialog_qt_test.py PHOTO STYLE

Checks with the real library: the methods offered, the 26 built-in names
with their thumbnails, rows shown per method, the options each method
gives, a preview that appears after a change and is a stylized copy of
the photo (a real network run), settings saved; a fast network placed in a
weights folder (fast-NAME.safetensors, as `restyle weights import --name`
stores it) is listed after the built-in one and its preview is stylized.
Exits 1 on failure.
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "krita"), os.path.join(HERE, ".."), HERE]
from restyle.qt import QT_MAJOR, QtCore, QtGui, QtWidgets  # noqa: E402
from restyle import dialog as dlgmod  # noqa: E402
import restyle_binding as rb  # noqa: E402
from fast_model import place_fast_model  # noqa: E402


class Settings(dict):
    def get(self, key, default):
        return dict.get(self, key, default)

    def set(self, key, value):
        self[key] = value


def main():
    photo, style = sys.argv[1], sys.argv[2]
    # A second weights folder holding one fast network (the library reads the list).
    tmp = tempfile.TemporaryDirectory(prefix="restyle-fast-")  # removed when main returns
    extra = tmp.name
    mine = place_fast_model(extra, "painterly")
    os.environ["RESTYLE_WEIGHTS_DIR"] = os.pathsep.join(
        [d for d in (os.environ.get("RESTYLE_WEIGHTS_DIR"), extra) if d])
    want = int(os.environ["RESTYLE_QT"])
    assert QT_MAJOR == want, (QT_MAJOR, want)
    app = QtWidgets.QApplication([])
    img = QtGui.QImage(photo).convertToFormat(QtGui.QImage.Format.Format_ARGB32)
    src_w, src_h = img.width(), img.height()
    ctx = rb.Context()
    calls = []

    def preview(options):
        # the host's job: the layer at preview size, BGRA8 (= ARGB32 little-endian)
        tw, th, _ = rb.preview_size(src_w, src_h)
        small = img.scaled(tw, th).convertToFormat(QtGui.QImage.Format.Format_ARGB32)
        ptr = small.constBits()
        ptr.setsize(small.sizeInBytes()) if hasattr(ptr, "setsize") else None
        raw = bytes(ptr.asstring(small.sizeInBytes()) if hasattr(ptr, "asstring") else ptr)
        px = b"".join(raw[y * small.bytesPerLine():y * small.bytesPerLine() + 4 * tw] for y in range(th))
        calls.append((options, px))
        return tw, th, ctx.preview(px, tw, th, rb.FORMAT_BGRA8, **options)

    s = Settings(style=style)
    d = dlgmod.RestyleDialog(s, preview)
    d.show()
    methods = [d.method.itemData(i) for i in range(d.method.count())]
    print("methods:", methods)
    assert methods[:3] == ["arbitrary", "multistyle26", "fast"] and methods[-1] == "gatys-improved", methods
    assert d.builtin.count() == 26 and [d.builtin.item(i).text() for i in range(26)] == rb.style_names()
    assert all(not d.builtin.item(i).icon().isNull() for i in range(26)), "a built-in style has no thumbnail"
    assert d.new_layer.isChecked(), "new layer is the default"

    def wait_preview(n):
        t = time.time()
        while d.previews < n and time.time() - t < 60:
            app.processEvents()
            time.sleep(0.02)
        return time.time() - t

    took = wait_preview(1)
    assert d.previews >= 1, "no preview"
    pm = d.preview.pixmap()
    print("first preview after %.1f s: %dx%d" % (took, pm.width(), pm.height()))
    opts, px = calls[-1]
    assert opts["method"] == "arbitrary" and opts["style_path"] == style
    out = d.preview.pixmap().toImage().convertToFormat(QtGui.QImage.Format.Format_ARGB32)
    diffs = [abs(QtGui.QColor(out.pixel(x, y)).red() - px[4 * (y * pm.width() + x) + 2])
             for y in range(0, pm.height(), 3) for x in range(0, pm.width(), 3)]
    mean = sum(diffs) / len(diffs)
    print("preview vs its input: mean red difference %.1f/255" % mean)
    assert mean > 10, "the preview is (nearly) the input, not stylized"

    # multistyle26: its row shown, the style row hidden, a name in the options
    d.method.setCurrentIndex(d.method.findData("multistyle26"))
    d.builtin.setCurrentRow(20)
    app.processEvents()
    assert not d.builtin.isHidden() and d.style_row.isHidden() and d.model_row.isHidden()
    o = d.options()
    assert o["method"] == "multistyle26" and o["builtin_style"] == rb.style_names()[20] and "style_path" not in o, o
    took = wait_preview(2)
    assert calls[-1][0]["builtin_style"] == rb.style_names()[20]
    print("preview after a change: %.1f s" % took)
    d.method.setCurrentIndex(d.method.findData("fast"))
    fast = [(d.fast.itemText(i), d.fast.itemData(i)) for i in range(d.fast.count())]
    print("fast networks:", fast)
    assert fast[0] == ("starry_night (built in)", "starry_night"), fast
    assert fast[1] == ("painterly", mine) and fast[-1] == ("A file...", ""), fast
    assert not d.model.isEnabled(), "the file field is for 'A file...' only"
    assert d.options() == {"method": "fast", "strength": 1.0, "preserve_color": "none", "working_size": 0,
                           "device": "cpu", "model_path": "starry_night"}, d.options()
    # The found network: chosen from the list, it gives the preview.
    n = d.previews
    d.fast.setCurrentIndex(1)
    assert d.options()["model_path"] == mine, d.options()
    wait_preview(n + 1)
    assert d.previews > n and calls[-1][0]["model_path"] == mine, "no preview with the found network"
    out = d.preview.pixmap().toImage().convertToFormat(QtGui.QImage.Format.Format_ARGB32)
    px = calls[-1][1]
    diffs = [abs(QtGui.QColor(out.pixel(x, y)).red() - px[4 * (y * out.width() + x) + 2])
             for y in range(0, out.height(), 3) for x in range(0, out.width(), 3)]
    print("found fast network preview vs its input: mean red difference %.1f/255" % (sum(diffs) / len(diffs)))
    assert sum(diffs) / len(diffs) > 10, "the found network's preview is (nearly) the input"
    d.save()
    assert s["model"] == mine, s
    d3 = dlgmod.RestyleDialog(s, None)
    assert d3.fast.currentIndex() == 1, "the found network not restored from settings"
    # "A file..." enables the path field, whose text is then the model.
    d.fast.setCurrentIndex(d.fast.count() - 1)
    d.model.setText(mine)
    assert d.model.isEnabled() and d.options()["model_path"] == mine
    d.method.setCurrentIndex(d.method.findData("gatys-improved"))
    assert d.options()["max_seconds"] == 120.0 and not d.budget.isHidden()
    d.new_layer.setChecked(False)
    d.save()
    assert s["method"] == "gatys-improved" and s["new_layer"] == "false" and s["builtin"] == rb.style_names()[20], s
    d2 = dlgmod.RestyleDialog(s, None)
    assert d2.method.currentData() == "gatys-improved" and not d2.new_layer.isChecked()
    print("RESTYLE-QT%d-DIALOG-OK" % QT_MAJOR)


if __name__ == "__main__":
    main()
