"""Host test of the Krita plug-in's engine inside Krita (kritarunner):

  QT_QPA_PLATFORM=offscreen PYTHONPATH=<pykrita>:<this dir> RESTYLE_CLI_MS=cli.png RESTYLE_CLI_MS_ID=20 \
    kritarunner -s krita_runner_test -f main IN.png STYLE OUT.png

For each RGBA depth Krita offers (U8, U16, F16, F32) the photo is converted,
a rectangle selected and the layer stylized in its native pixelData format;
checked in Krita's own bytes: changed inside the selection, unchanged outside,
alpha unchanged, same size. At U8 also: every method of the dialog (Gatys
improved with an 8 s budget); the new-layer mode (source bit-identical, the
new layer stylized inside the selection with the source's alpha, transparent
outside, named after the style); cancel mid-run (document unchanged); the
preview (a stylized thumbnail, document unchanged); the built-in style
named like the CLI's id RESTYLE_CLI_MS_ID gives the CLI's pixels
(RESTYLE_CLI_MS). A missing style file must raise a clear error and leave
the layer alone. kritarunner exits 0 even on errors, so the result is the
last line: RESTYLE-KRITA-OK or RESTYLE-KRITA-FAIL.
"""
import os
import traceback

import numpy as np
from krita import InfoObject, Krita, Selection

from restyle import engine

rb = engine.rb
SEL = (16, 12, 64, 40)
DTYPES = {"U8": np.uint8, "U16": np.uint16, "F16": np.float16, "F32": np.float32}


def pixels(doc, node):
    raw = bytes(node.pixelData(0, 0, doc.width(), doc.height()))
    return np.frombuffer(raw, dtype=DTYPES[node.colorDepth()]).reshape(doc.height(), doc.width(), 4)


def open_doc(src, depth="U8", select=True):
    doc = Krita.instance().openDocument(src)
    doc.setBatchmode(True)
    if depth != "U8":
        doc.setColorSpace("RGBA", depth, doc.colorProfile())
        doc.waitForDone()
    node = doc.topLevelNodes()[0]  # no view under kritarunner, so no active node
    assert (node.colorModel(), node.colorDepth()) == ("RGBA", depth), (node.colorModel(), node.colorDepth())
    if select:
        x, y, w, h = SEL
        sel = Selection()
        sel.select(x, y, w, h, 255)
        doc.setSelection(sel)
    return doc, node


def layers(doc):
    """The image's paint layers, bottom to top (a selection adds a mask node)."""
    return [n for n in doc.topLevelNodes() if n.type() == "paintlayer"]


def inside_mask(shape):
    x, y, w, h = SEL
    inside = np.zeros(shape[:2], bool)
    inside[y:y + h, x:x + w] = True
    return inside


def check_depth(src, style, depth, out, **options):
    doc, node = open_doc(src, depth)
    before = pixels(doc, node).astype(np.float64)
    opts = dict({"strength": 1.0}, **options)
    if opts.get("method", "arbitrary") in rb.STYLE_METHODS:
        opts["style_path"] = style
    node = engine.stylize_node(doc, node, opts)
    doc.waitForDone()
    tops = doc.topLevelNodes()
    assert [n.type() for n in tops].count("paintlayer") == 1 and node is not None and (node.colorModel(), node.colorDepth()) == ("RGBA", depth), (len(tops), node, [(n.name(), n.type()) for n in tops])
    after = pixels(doc, node).astype(np.float64)
    assert after.shape == before.shape
    scale = 255.0 if depth == "U8" else 65535.0 if depth == "U16" else 1.0
    d = np.abs(after - before) / scale
    inside = inside_mask(before.shape)
    changed = (d[..., :3].max(-1) > 0.02)[inside].mean()
    print("RESTYLE-KRITA %s%s: changed inside %.3f, max diff outside %g, alpha max diff %g"
          % (depth, " " + options["method"] if options else "", changed, d[~inside].max(), d[..., 3].max()), flush=True)
    assert changed > 0.9, changed
    assert d[~inside].max() == 0.0
    assert d[..., 3].max() == 0.0
    if out:
        doc.exportImage(out, InfoObject())
    doc.close()


def check_new_layer(src, style):
    doc, node = open_doc(src)
    before = pixels(doc, node).copy()
    layer = engine.stylize_node(doc, node, {"style_path": style}, new_layer=True)
    doc.waitForDone()
    tops = layers(doc)
    names = [n.name() for n in tops]
    src_after = pixels(doc, tops[0])
    new = pixels(doc, tops[1]).astype(int)
    inside = inside_mask(before.shape)
    changed = (np.abs(new[..., :3] - before[..., :3].astype(int)).max(-1) > 5)[inside].mean()
    alpha_in = np.abs(new[..., 3] - before[..., 3].astype(int))[inside].max()
    alpha_out = new[..., 3][~inside].max()
    print("RESTYLE-KRITA new layer: layers %s, source identical %s, changed inside %.3f, alpha inside max diff %d, "
          "alpha outside max %d" % (names, np.array_equal(before, src_after), changed, alpha_in, alpha_out), flush=True)
    assert len(tops) == 2 and names[1] == "restyle: %s" % os.path.splitext(os.path.basename(style))[0], names
    assert layer is not None and layer.name() == names[1]
    assert np.array_equal(before, src_after), "the source layer changed"
    assert changed > 0.9 and alpha_in == 0 and alpha_out == 0, (changed, alpha_in, alpha_out)
    doc.close()


def check_cancel(src, style):
    doc, node = open_doc(src)
    before = pixels(doc, node).copy()
    stages = []

    def progress(stage, fraction):
        stages.append(stage)
        return len(stages) >= 3  # cancel once the run is under way
    for new_layer in (False, True):
        stages.clear()
        try:
            engine.stylize_node(doc, node, {"style_path": style, "method": "gatys-improved", "max_seconds": 30.0},
                                progress, new_layer=new_layer)
        except rb.RestyleError as e:
            assert e.cancelled, e
        else:
            raise AssertionError("cancel did not stop the run")
        doc.waitForDone()
        tops = layers(doc)
        same = np.array_equal(before, pixels(doc, tops[0]))
        print("RESTYLE-KRITA cancel (new layer %s) after %s: layers %d, unchanged %s"
              % (new_layer, stages, len(tops), same), flush=True)
        assert len(tops) == 1 and same
    doc.close()


def check_preview(src, style, ctx):
    doc, node = open_doc(src)
    before = pixels(doc, node).copy()
    for opts in ({"method": "arbitrary", "style_path": style}, {"method": "multistyle26", "builtin_style": "crimson"}):
        w, h, px = engine.preview(doc, node, opts, ctx)
        tw, th, src_px, mask = engine.preview_input(doc, node)
        a = np.frombuffer(bytes(src_px), np.uint8).reshape(th, tw, 4).astype(int)
        b = np.frombuffer(bytes(px), np.uint8).reshape(h, w, 4).astype(int)
        changed = (np.abs(a[..., :3] - b[..., :3]).max(-1) > 5).mean()
        unchanged = np.array_equal(before, pixels(doc, node)) and len(layers(doc)) == 1
        print("RESTYLE-KRITA preview %s: %dx%d (selection %dx%d), changed %.3f, document unchanged %s"
              % (opts["method"], w, h, SEL[2], SEL[3], changed, unchanged), flush=True)
        assert (w, h) == (SEL[2], SEL[3]) and changed > 0.9 and unchanged and not doc.modified()
    doc.close()


def check_builtin_name_matches_cli(src):
    """The plug-in's style, chosen by name, gives the CLI's pixels for its id."""
    cli, cli_id, name = os.environ["RESTYLE_CLI_MS"], int(os.environ["RESTYLE_CLI_MS_ID"]), os.environ["RESTYLE_CLI_MS_NAME"]
    doc, node = open_doc(src, select=False)
    node = engine.stylize_node(doc, node, {"method": "multistyle26", "builtin_style": name})
    ours = pixels(doc, node).astype(int)
    ref_doc = Krita.instance().openDocument(cli)
    ref = pixels(ref_doc, ref_doc.topLevelNodes()[0]).astype(int)
    diff = np.abs(ours[..., :3] - ref[..., :3]).max()
    # another id, for scale: how far a wrong style would be
    doc2, node2 = open_doc(src, select=False)
    node2 = engine.stylize_node(doc2, node2, {"method": "multistyle26", "builtin_style": (cli_id + 1) % 26})
    other = np.abs(pixels(doc2, node2).astype(int)[..., :3] - ref[..., :3]).mean()
    print("RESTYLE-KRITA built-in %r vs CLI --style-id %d: max diff %d (another style: mean diff %.1f)"
          % (name, cli_id, diff, other), flush=True)
    assert diff <= 2 and other > 10, (diff, other)
    for d in (doc, doc2, ref_doc):
        d.close()


def main(args):
    src, style, out = args
    try:
        for depth in ("U8", "U16", "F16", "F32"):
            check_depth(src, style, depth, out if depth == "U8" else None)
        # every method of the dialog (AdaIN only where its weights are)
        check_depth(src, style, "U8", None, method="multistyle26", builtin_style="crimson")
        check_depth(src, style, "U8", None, method="fast")
        check_depth(src, style, "U8", None, method="gatys-improved", max_seconds=8.0)
        if rb.weights_file_exists(*rb.ADAIN_FILES):
            check_depth(src, style, "U8", None, method="adain")
        else:
            print("RESTYLE-KRITA adain: not offered (no AdaIN weights)", flush=True)
        check_new_layer(src, style)
        check_cancel(src, style)
        with rb.Context() as ctx:
            check_preview(src, style, ctx)
        check_builtin_name_matches_cli(src)
        check_missing_style(src)
        print("RESTYLE-KRITA-OK", flush=True)
    except Exception:
        traceback.print_exc()
        print("RESTYLE-KRITA-FAIL", flush=True)


def check_missing_style(src):
    doc, node = open_doc(src, select=False)
    before = pixels(doc, node).copy()
    try:
        engine.stylize_node(doc, node, {"style_path": "/nonexistent/style.jpg"})
    except rb.RestyleError as e:
        print("RESTYLE-KRITA missing style: error %d: %s" % (e.status, e), flush=True)
        assert "/nonexistent/style.jpg" in str(e)
    else:
        raise AssertionError("a missing style file did not raise")
    assert np.array_equal(before, pixels(doc, node)), "layer changed by a failed run"
    doc.close()
