"""Host test of the Krita plug-in's engine inside Krita (kritarunner):

  QT_QPA_PLATFORM=offscreen PYTHONPATH=<pykrita>:<this dir> \
    kritarunner -s krita_runner_test -f main IN.png STYLE OUT.png

For each RGBA depth Krita offers (U8, U16, F16, F32) the photo is converted,
a rectangle selected and the layer stylized in its native pixelData format;
checked in Krita's own bytes: changed inside the selection, unchanged outside,
alpha unchanged, same size; at U8 also the Gatys improved method (8 s
budget). Then a missing style file must raise a clear
error and leave the layer alone. kritarunner exits 0 even on errors, so the
result is the last line: RESTYLE-KRITA-OK or RESTYLE-KRITA-FAIL.
"""
import traceback

import numpy as np
from krita import InfoObject, Krita, Selection

from restyle import engine

SEL = (16, 12, 64, 40)
DTYPES = {"U8": np.uint8, "U16": np.uint16, "F16": np.float16, "F32": np.float32}


def pixels(doc, node):
    raw = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
    return np.frombuffer(raw, dtype=DTYPES[node.colorDepth()]).reshape(doc.height(), doc.width(), 4)


def check_depth(src, style, depth, out, **options):
    k = Krita.instance()
    doc = k.openDocument(src)
    doc.setBatchmode(True)
    if depth != "U8":
        doc.setColorSpace("RGBA", depth, doc.colorProfile())
        doc.waitForDone()
    node = doc.topLevelNodes()[0]  # no view under kritarunner, so no active node
    assert (node.colorModel(), node.colorDepth()) == ("RGBA", depth), (node.colorModel(), node.colorDepth())
    x, y, w, h = SEL
    sel = Selection()
    sel.select(x, y, w, h, 255)
    doc.setSelection(sel)
    before = pixels(doc, node).astype(np.float64)
    node = engine.stylize_node(doc, node, dict({"style_path": style, "strength": 1.0}, **options))
    doc.waitForDone()
    tops = doc.topLevelNodes()
    assert [n.type() for n in tops].count("paintlayer") == 1 and node is not None and (node.colorModel(), node.colorDepth()) == ("RGBA", depth), (len(tops), node, [(n.name(), n.type()) for n in tops])
    after = pixels(doc, node).astype(np.float64)
    assert after.shape == before.shape
    scale = 255.0 if depth == "U8" else 65535.0 if depth == "U16" else 1.0
    d = np.abs(after - before) / scale
    inside = np.zeros(before.shape[:2], bool)
    inside[y:y + h, x:x + w] = True
    changed = (d[..., :3].max(-1) > 0.02)[inside].mean()
    print("RESTYLE-KRITA %s%s: changed inside %.3f, max diff outside %g, alpha max diff %g"
          % (depth, " " + options["method"] if options else "", changed, d[~inside].max(), d[..., 3].max()), flush=True)
    assert changed > 0.9, changed
    assert d[~inside].max() == 0.0
    assert d[..., 3].max() == 0.0
    if out:
        doc.exportImage(out, InfoObject())
    doc.close()


def check_missing_style(src):
    doc = Krita.instance().openDocument(src)
    doc.setBatchmode(True)
    node = doc.topLevelNodes()[0]
    before = pixels(doc, node).copy()
    try:
        engine.stylize_node(doc, node, {"style_path": "/nonexistent/style.jpg"})
    except engine.rb.RestyleError as e:
        print("RESTYLE-KRITA missing style: error %d: %s" % (e.status, e), flush=True)
        assert "/nonexistent/style.jpg" in str(e)
    else:
        raise AssertionError("a missing style file did not raise")
    assert np.array_equal(before, pixels(doc, node)), "layer changed by a failed run"
    doc.close()


def main(args):
    src, style, out = args
    try:
        for depth in ("U8", "U16", "F16", "F32"):
            check_depth(src, style, depth, out if depth == "U8" else None)
        check_depth(src, style, "U8", None, method="gatys-improved", max_seconds=8.0)
        check_missing_style(src)
        print("RESTYLE-KRITA-OK", flush=True)
    except Exception:
        traceback.print_exc()
        print("RESTYLE-KRITA-FAIL", flush=True)
