"""Krita document/node glue without widgets (also used by kritarunner tests)."""
import os
import struct
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


def layer_format(node):
    if node is None or node.type() != "paintlayer":
        raise rb.RestyleError(2, "select a paint layer (got %s)" % (node.type() if node else "nothing"))
    key = (node.colorModel(), node.colorDepth())
    fmt = FORMATS.get(key)
    if fmt is None:
        raise rb.RestyleError(3, "layers in %s/%s are not supported; convert the image to RGB/Alpha "
                                 "(Image > Convert Image Color Space)" % key)
    return fmt


def stylize_node(doc, node, options, progress=None, context=None, new_layer=False):
    """Stylizes `node` (selection honoured, alpha untouched): in place, or
    with `new_layer` onto a new layer above it, named after the style (the
    source layer is then left exactly as it was; see add_layer).

    `options`: keyword arguments of restyle_binding.Context.stylize
    (style_path, strength, preserve_color, method, ...).
    Raises restyle_binding.RestyleError on failure; the document is then unchanged.
    Returns the stylized layer (a new node either way: see write_back).
    """
    fmt = layer_format(node)
    key = (node.colorModel(), node.colorDepth())
    x, y, w, h, mask = region(doc)
    data = bytearray(node.pixelData(x, y, w, h))
    if len(data) != w * h * rb.BYTES_PER_PIXEL[fmt]:
        raise rb.RestyleError(3, "unexpected pixel data size %d for %dx%d %s/%s" % ((len(data), w, h) + key))
    ctx = context or rb.Context()
    try:
        # A new layer takes the full stylized colours; the selection becomes its alpha.
        ctx.stylize(data, w, h, fmt, mask=None if new_layer else mask, progress=progress, **options)
    finally:
        if context is None:
            ctx.close()
    if new_layer:
        return add_layer(doc, node, data, x, y, w, h, rb.layer_name(
            options.get("method", "arbitrary"), options.get("style_path"), options.get("builtin_style"),
            options.get("model_path")), mask)
    return write_back(doc, node, data, x, y, w, h)


def add_layer(doc, node, data, x, y, w, h, name, mask=None):
    """Puts the result on a new layer right above `node`, in its colour
    space: the stylized pixels with the source's alpha, scaled by the
    selection's coverage, and transparent elsewhere, so the image looks as
    after an in-place run and the source stays as it was. One undo step
    (the addition); the pixels are set before the layer is in the image."""
    layer = doc.createNode(name, "paintlayer")
    layer.setColorSpace(node.colorModel(), node.colorDepth(), node.colorProfile())
    if mask is not None:
        data = masked_alpha(data, mask, layer_format(node))
    layer.setPixelData(bytes(data), x, y, w, h)
    node.parentNode().addChildNode(layer, node)
    doc.waitForDone()
    doc.refreshProjection()
    return layer


def masked_alpha(data, mask, fmt):
    """`data` with each pixel's alpha multiplied by its mask byte / 255."""
    if fmt == rb.FORMAT_BGRA8:
        out = bytearray(data)
        out[3::4] = bytes(a * m // 255 for a, m in zip(data[3::4], mask))
        return out
    code, size = {rb.FORMAT_BGRA16: ("H", 2), rb.FORMAT_RGBAF16: ("e", 2), rb.FORMAT_RGBAF32: ("f", 4)}[fmt]
    n = len(data) // size
    vals = list(struct.unpack("<%d%s" % (n, code), bytes(data)))
    for i, m in enumerate(mask):
        a = vals[4 * i + 3] * m / 255.0
        vals[4 * i + 3] = int(round(a)) if code == "H" else a
    return bytearray(struct.pack("<%d%s" % (n, code), *vals))


def _to_bgra8(px, fmt):
    """One pixel of a Krita layer format as BGRA8 bytes (previews only)."""
    if fmt == rb.FORMAT_BGRA8:
        return px
    if fmt == rb.FORMAT_BGRA16:  # little-endian: the high byte of each channel
        return px[1::2]
    vals = struct.unpack("<4e" if fmt == rb.FORMAT_RGBAF16 else "<4f", px)
    r, g, b, a = (max(0, min(255, int(round(v * 255.0)))) if v == v else 0 for v in vals)
    return bytes((b, g, r, a))


def preview_input(doc, node, side=rb.PREVIEW_SIDE):
    """(w, h, BGRA8 bytes, mask or None) of the layer's selected area (or the
    whole layer) reduced to `side` px at most, read row by row (nearest
    neighbour) so a large image is never copied whole. Reads only."""
    fmt = layer_format(node)
    x, y, w, h, _ = region(doc)
    tw, th, _ = rb.preview_size(w, h, side)
    bpp = rb.BYTES_PER_PIXEL[fmt]
    cols = [min(w - 1, int((i + 0.5) * w / tw)) for i in range(tw)]
    sel = doc.selection()
    out, mask = bytearray(), bytearray() if sel is not None and sel.width() > 0 else None
    for j in range(th):
        row_y = y + min(h - 1, int((j + 0.5) * h / th))
        row = bytes(node.pixelData(x, row_y, w, 1))
        out += b"".join(_to_bgra8(row[c * bpp:(c + 1) * bpp], fmt) for c in cols)
        if mask is not None:
            mrow = bytes(sel.pixelData(x, row_y, w, 1))
            mask += bytes(mrow[c] for c in cols)
    return tw, th, out, (bytes(mask) if mask is not None else None)


def preview(doc, node, options, context, progress=None, side=rb.PREVIEW_SIDE):
    """(w, h, BGRA8 bytes): the stylized thumbnail of the layer or selection.
    The document is not modified (the tests check its pixels and layers)."""
    tw, th, px, mask = preview_input(doc, node, side)
    opts = {k: v for k, v in options.items() if k != "working_size"}
    return tw, th, context.preview(px, tw, th, rb.FORMAT_BGRA8, mask=mask, progress=progress, **opts)


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
