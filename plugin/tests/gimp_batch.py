# Host test of the GIMP 3 plug-in, run by .ci/plugins.sh inside GIMP:
#   gimp-console-3.0 -i --batch-interpreter=python-fu-eval -b - --quit < gimp_batch.py
# (python-eval has Gimp, Gio, GLib, Gegl imported). For every precision the
# plug-in meets, it loads a real photo with an alpha ramp, selects a
# rectangle, runs the installed procedure non-interactively and checks, in
# GIMP's own pixels: changed inside the selection, unchanged outside, alpha
# unchanged, same size, one undo step. Then the Gatys improved method with a
# 8 s time budget (u8), and a missing style file must give an error, not a
# crash. Prints RESTYLE-GIMP-ALL-OK at the end.
import os
import numpy as np

SRC, OUT, STYLE = os.environ["RESTYLE_IN"], os.environ["RESTYLE_OUT"], os.environ["RESTYLE_STYLE"]
SEL = (16, 12, 64, 40)  # x, y, w, h
P = Gimp.Precision
CASES = [  # (name, image precision, layer keeps its alpha)
    ("u8", P.U8_NON_LINEAR, True), ("u8-noalpha", P.U8_NON_LINEAR, False), ("u16", P.U16_NON_LINEAR, True),
    ("half", P.HALF_LINEAR, True), ("float", P.FLOAT_LINEAR, True), ("float-nonlinear", P.FLOAT_NON_LINEAR, True),
]


def pixels(drw):
    w, h = drw.get_width(), drw.get_height()
    raw = drw.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, "R'G'B'A float", Gegl.AbyssPolicy.CLAMP)
    return np.frombuffer(bytes(raw), dtype=np.float32).reshape(h, w, 4).copy()


def run_filter(img, drw, style, method="arbitrary", **props):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-restyle")
    if proc is None:
        raise RuntimeError("plug-in-restyle is not registered (plug-in not installed or not executable)")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [drw])
    cfg.set_property("method", method)
    cfg.set_property("style-file", Gio.File.new_for_path(style))
    cfg.set_property("strength", 1.0)
    for k, v in props.items():
        cfg.set_property(k, v)
    res = proc.run(cfg)
    return res.index(0), (res.index(1) if res.length() > 1 else None)


def load(name, prec, alpha):
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(SRC))
    drw = img.get_layers()[0]
    if not alpha:
        img.flatten()
        drw = img.get_layers()[0]
        assert not drw.has_alpha(), name
    if img.get_precision() != prec:
        img.convert_precision(prec)
    return img, img.get_layers()[0]


def stylize_selection(name, img, drw, method="arbitrary", **props):
    """Runs the filter on SEL and checks the layer: changed inside the
    selection, untouched outside, alpha kept, same size."""
    fmt = Babl.format_get_encoding(drw.get_format())
    before = pixels(drw)
    x, y, w, h = SEL
    img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    status, err = run_filter(img, drw, STYLE, method, **props)
    if status != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError("%s: filter failed: %s" % (name, err))
    after = pixels(drw)
    assert after.shape == before.shape, (name, after.shape, before.shape)
    inside = np.zeros(before.shape[:2], bool)
    inside[y:y + h, x:x + w] = True
    d = np.abs(after - before)
    changed = (d[..., :3].max(-1) > 0.02)[inside].mean()
    outside = d[~inside].max()
    alpha_diff = d[..., 3].max()
    print("RESTYLE-GIMP %s (%s): changed inside %.3f, max diff outside %g, alpha max diff %g"
          % (name, fmt, changed, outside, alpha_diff), flush=True)
    assert changed > 0.9, (name, changed)
    assert outside == 0.0, (name, outside)
    assert alpha_diff == 0.0, (name, alpha_diff)


for name, prec, alpha in CASES:
    img, drw = load(name, prec, alpha)
    stylize_selection(name, img, drw)
    if name == "u8":
        Gimp.Selection.none(img)
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path(OUT), None)
    img.delete()

# The optimisation method through the same dialog arguments, its time budget
# keeping the run short.
img, drw = load("gatys-improved", P.U8_NON_LINEAR, True)
stylize_selection("gatys-improved", img, drw, "gatys-improved", **{"max-seconds": 8.0})
img.delete()

# Error cases, each reported as an error status with a message, the layer
# untouched and GIMP still running: a missing style file (GIMP itself
# refuses the file argument) and an unreadable one (the library's error,
# returned by the plug-in).
bad = os.path.join(os.path.dirname(OUT), "not-an-image.jpg")
with open(bad, "w") as f:
    f.write("this is not a JPEG")
for style, expect_status, expect_text in [
        ("/nonexistent/style.jpg", Gimp.PDBStatusType.CALLING_ERROR, "style-file"),
        (bad, Gimp.PDBStatusType.EXECUTION_ERROR, "not-an-image.jpg")]:
    img, drw = load("error", P.U8_NON_LINEAR, True)
    before = pixels(drw)
    status, err = run_filter(img, drw, style)
    msg = err.message if hasattr(err, "message") else str(err)
    print("RESTYLE-GIMP error case %s: status %s, message %r" % (style, status.value_nick, msg), flush=True)
    assert status == expect_status, status
    assert expect_text in msg, msg
    assert np.array_equal(before, pixels(drw)), "layer changed by a failed run"
    img.delete()
print("RESTYLE-GIMP-ALL-OK", flush=True)
