"""Krita document/node glue without widgets (also used by kritarunner tests)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Installed: the shared binding sits in this package; in the source tree: plugin/.
sys.path[:0] = [HERE, os.path.normpath(os.path.join(HERE, "..", ".."))]
import restyle_binding as rb  # noqa: E402

# Krita's native layouts (pixelData), passed to the library as they are.
FORMATS = {
    ("RGBA", "U8"): rb.FORMAT_BGRA8,
    ("RGBA", "U16"): rb.FORMAT_BGRA16,
    ("RGBA", "F16"): rb.FORMAT_RGBAF16,
    ("RGBA", "F32"): rb.FORMAT_RGBAF32,
}


def region(doc):
    """(x, y, w, h, mask): the selection's bounding box within the image and
    its coverage bytes, or the whole image and None."""
    W, H = doc.width(), doc.height()
    sel = doc.selection()
    if sel is None or sel.width() <= 0 or sel.height() <= 0:
        return 0, 0, W, H, None
    x0, y0 = max(sel.x(), 0), max(sel.y(), 0)
    x1, y1 = min(sel.x() + sel.width(), W), min(sel.y() + sel.height(), H)
    if x1 <= x0 or y1 <= y0:
        raise rb.RestyleError(2, "the selection is outside the image")
    return x0, y0, x1 - x0, y1 - y0, bytes(sel.pixelData(x0, y0, x1 - x0, y1 - y0))


def stylize_node(doc, node, options, progress=None, context=None):
    """Stylizes `node` in place (selection honoured, alpha untouched).

    `options`: keyword arguments of restyle_binding.Context.stylize
    (style_path, strength, preserve_color, method, ...).
    Raises restyle_binding.RestyleError on failure; the layer is then unchanged.
    Returns the stylized layer (a new node: see write_back).
    """
    if node is None or node.type() != "paintlayer":
        raise rb.RestyleError(2, "select a paint layer (got %s)" % (node.type() if node else "nothing"))
    key = (node.colorModel(), node.colorDepth())
    fmt = FORMATS.get(key)
    if fmt is None:
        raise rb.RestyleError(3, "layers in %s/%s are not supported; convert the image to RGB/Alpha "
                                 "(Image > Convert Image Color Space)" % key)
    x, y, w, h, mask = region(doc)
    data = bytearray(node.pixelData(x, y, w, h))
    if len(data) != w * h * rb.BYTES_PER_PIXEL[fmt]:
        raise rb.RestyleError(3, "unexpected pixel data size %d for %dx%d %s/%s" % ((len(data), w, h) + key))
    ctx = context or rb.Context()
    try:
        ctx.stylize(data, w, h, fmt, mask=mask, progress=progress, **options)
    finally:
        if context is None:
            ctx.close()
    return write_back(doc, node, data, x, y, w, h)


def write_back(doc, node, data, x, y, w, h):
    """Writes the result so that Krita can undo it. `setPixelData` on a layer
    of the image bypasses the undo stack (Krita 5.1), so the pixels go into a
    copy of the layer that is not in the image yet; the copy, in "copy"
    blending mode, is added above the layer and merged down (both undoable:
    Ctrl+Z twice restores the layer exactly). Returns the resulting node."""
    parent = node.parentNode()
    names = [n.name() for n in parent.childNodes()]
    index = [n.uniqueId() for n in parent.childNodes()].index(node.uniqueId())
    dup = node.duplicate()
    dup.setPixelData(bytes(data), x, y, w, h)
    dup.setBlendingMode("copy")  # merge takes the copy's pixels, alpha included
    parent.addChildNode(dup, node)
    doc.waitForDone()
    dup.mergeDown()  # returns None in some Krita versions: find the result instead
    doc.waitForDone()
    doc.refreshProjection()
    children = parent.childNodes()
    if [n.name() for n in children] != names:
        raise rb.RestyleError(10, "Krita did not merge the stylized copy as expected: %s" % [n.name() for n in children])
    return children[index]
