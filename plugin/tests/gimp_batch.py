# Host test of the GIMP 3 plug-in, run by .ci/plugins.sh inside GIMP:
#   gimp-console-3.0 -i --batch-interpreter=python-fu-eval -b - --quit < gimp_batch.py
# (python-eval has Gimp, Gio, GLib, Gegl imported). For every precision the
# plug-in meets, it loads a real photo with an alpha ramp, selects a
# rectangle, runs the installed procedure non-interactively and checks, in
# GIMP's own pixels: changed inside the selection, unchanged outside, alpha
# unchanged, same size (in place). Then, at u8: Gatys improved (8 s budget),
# the other methods (a built-in style by name, fast, AdaIN when installed),
# the new-layer mode (source bit-identical, new layer stylized inside the
# selection with the source's alpha, transparent outside, named after the
# style), the preview procedure (stylized thumbnail, image untouched), the
# built-in style named as `restyle info` names id RESTYLE_CLI_MS_ID gives the
# CLI's pixels; a missing style file must give an error, not a crash.
# Prints RESTYLE-GIMP-ALL-OK at the end.
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
    if style:
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
    """Runs the filter in place on SEL and checks the layer: changed inside
    the selection, untouched outside, alpha kept, same size."""
    fmt = Babl.format_get_encoding(drw.get_format())
    before = pixels(drw)
    x, y, w, h = SEL
    img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    props.setdefault("new-layer", False)
    status, err = run_filter(img, drw, STYLE if method in ("arbitrary", "adain", "gatys-improved") else None,
                             method, **props)
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

# Every other method of the dialog (AdaIN where its weights are installed).
img, drw = load("multistyle26", P.U8_NON_LINEAR, True)
stylize_selection("multistyle26 crimson", img, drw, "multistyle26", **{"builtin-style": "crimson"})
img.delete()
img, drw = load("fast", P.U8_NON_LINEAR, True)
stylize_selection("fast (built-in starry_night)", img, drw, "fast")
img.delete()
# A fast network in the plug-in's weights folder (plugins.sh puts
# fast-painterly.safetensors there): offered after the built-in one, and a
# run with it puts a stylized layer named after it.
spec = [a for a in Gimp.get_pdb().lookup_procedure("plug-in-restyle").get_arguments() if a.get_name() == "fast-model"][0]
nicks = list(Gimp.param_spec_choice_get_choice(spec).list_nicks())
print("RESTYLE-GIMP fast networks offered: %s" % nicks, flush=True)
assert nicks[:2] == ["starry_night", "painterly"] and Gimp.param_spec_choice_get_default(spec) == "starry_night", nicks
img, drw = load("fast-found", P.U8_NON_LINEAR, True)
before = pixels(drw)
status, err = run_filter(img, drw, None, "fast", **{"fast-model": "painterly", "new-layer": True})
assert status == Gimp.PDBStatusType.SUCCESS, err
top = img.get_layers()[0]
changed = (np.abs(pixels(top)[..., :3] - before[..., :3]).max(-1) > 0.02).mean()
print("RESTYLE-GIMP fast (found painterly): layer %r, changed %.3f" % (top.get_name(), changed), flush=True)
assert top.get_name() == "restyle: painterly" and changed > 0.9, (top.get_name(), changed)
img.delete()
if os.environ.get("RESTYLE_HAVE_ADAIN") == "1":
    img, drw = load("adain", P.U8_NON_LINEAR, True)
    stylize_selection("adain", img, drw, "adain")
    img.delete()

# New-layer mode (the default): the source bit-identical, a new layer above
# it named after the style, stylized inside the selection with the source's
# alpha, transparent outside; one undo step removes it.
img, drw = load("new-layer", P.U8_NON_LINEAR, True)
before = pixels(drw)
x, y, w, h = SEL
img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
status, err = run_filter(img, drw, STYLE)
assert status == Gimp.PDBStatusType.SUCCESS, err
layers = img.get_layers()
names = [l.get_name() for l in layers]
new, src = layers[0], layers[1]
inside = np.zeros(before.shape[:2], bool)
inside[y:y + h, x:x + w] = True
n = pixels(new)
changed = (np.abs(n[..., :3] - before[..., :3]).max(-1) > 0.02)[inside].mean()
alpha_in = np.abs(n[..., 3] - before[..., 3])[inside].max()
alpha_out = n[..., 3][~inside].max()
src_same = np.array_equal(before, pixels(src))
sel_kept = Gimp.Selection.bounds(img)[1:] == (True, x, y, x + w, y + h)
print("RESTYLE-GIMP new layer: layers %s, source identical %s, changed inside %.3f, alpha inside max diff %g, "
      "alpha outside max %g, selection kept %s" % (names, src_same, changed, alpha_in, alpha_out, sel_kept), flush=True)
assert names == ["restyle: %s" % os.path.splitext(os.path.basename(STYLE))[0], names[1]] and src_same, names
assert changed > 0.9 and alpha_in < 1e-6 and alpha_out == 0.0 and sel_kept, (changed, alpha_in, alpha_out, sel_kept)
img.delete()

# The preview procedure: a stylized thumbnail of the selection; the image,
# its layers and its undo stack untouched.
img, drw = load("preview", P.U8_NON_LINEAR, True)
before = pixels(drw)
img.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
pproc = Gimp.get_pdb().lookup_procedure("plug-in-restyle-preview")
for method, extra in (("arbitrary", {}), ("multistyle26", {"builtin-style": "crimson"})):
    cfg = pproc.create_config()
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [drw])
    cfg.set_property("method", method)
    cfg.set_property("style-file", Gio.File.new_for_path(STYLE))
    for k, v in extra.items():
        cfg.set_property(k, v)
    res = pproc.run(cfg)
    assert res.index(0) == Gimp.PDBStatusType.SUCCESS, res.index(1)
    pw, ph, data = res.index(1), res.index(2), bytes(res.index(3).get_data())
    thumb = np.frombuffer(data, np.uint8).reshape(ph, pw, 4).astype(float) / 255.0
    src_crop = before[y:y + h, x:x + w]
    changed = (np.abs(thumb[..., :3] - src_crop[..., :3]).max(-1) > 0.02).mean()
    untouched = (np.array_equal(before, pixels(drw)) and len(img.get_layers()) == 1
                 and Gimp.Selection.bounds(img)[1:] == (True, x, y, x + w, y + h))
    print("RESTYLE-GIMP preview %s: %dx%d, changed %.3f, image untouched %s" % (method, pw, ph, changed, untouched),
          flush=True)
    assert (pw, ph) == (w, h) and changed > 0.9 and untouched
img.delete()

# A built-in style chosen by name gives the CLI's pixels for its id.
# (RESTYLE_CLI_MS_NAME: the name `restyle info` gives that id)
cli, cli_id, name = os.environ["RESTYLE_CLI_MS"], int(os.environ["RESTYLE_CLI_MS_ID"]), os.environ["RESTYLE_CLI_MS_NAME"]
img, drw = load("builtin-vs-cli", P.U8_NON_LINEAR, True)
status, err = run_filter(img, drw, None, "multistyle26", **{"builtin-style": name, "new-layer": False})
assert status == Gimp.PDBStatusType.SUCCESS, err
ours = pixels(drw)
ref_img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(cli))
ref = pixels(ref_img.get_layers()[0])
diff = np.abs(ours[..., :3] - ref[..., :3]).max() * 255
print("RESTYLE-GIMP built-in %r vs CLI --style-id %d: max diff %.2f/255" % (name, cli_id, diff), flush=True)
assert diff <= 2.0, diff
img.delete()
ref_img.delete()

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
