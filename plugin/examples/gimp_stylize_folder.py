# Stylizes every image of a folder with the restyle GIMP plug-in, without a
# window (GIMP 3 batch mode). Settings come from the environment:
#
#   RESTYLE_IN_DIR=photos RESTYLE_OUT_DIR=styled RESTYLE_METHOD=multistyle26 \
#   RESTYLE_BUILTIN=crimson gimp-console-3.0 -i --batch-interpreter=python-fu-eval \
#       -b - --quit < plugin/examples/gimp_stylize_folder.py
#
# RESTYLE_METHOD: arbitrary (default; needs RESTYLE_STYLE=painting.jpg),
# multistyle26 (RESTYLE_BUILTIN=a name from `restyle info`), fast
# (RESTYLE_MODEL=net.safetensors, default the built-in starry_night), adain,
# gatys-improved (RESTYLE_MAX_SECONDS, default 120). RESTYLE_STRENGTH (0..1),
# RESTYLE_WORKING_SIZE (px, 0 = as is), RESTYLE_DEVICE (cpu|cuda).
# The procedure's arguments are those of the dialog: see `plug-in-restyle`
# in Help > Procedure Browser. Results are PNGs in RESTYLE_OUT_DIR (written
# under a temporary name, then renamed); the source folder is never written.
import os

IN, OUT = os.environ["RESTYLE_IN_DIR"], os.environ["RESTYLE_OUT_DIR"]
if os.path.realpath(IN) == os.path.realpath(OUT):
    raise SystemExit("restyle: RESTYLE_OUT_DIR must differ from RESTYLE_IN_DIR (sources are never overwritten)")
os.makedirs(OUT, exist_ok=True)
env = os.environ.get
proc = Gimp.get_pdb().lookup_procedure("plug-in-restyle")
if proc is None:
    raise SystemExit("restyle: plug-in-restyle is not installed (python3 plugin/install.py gimp)")
done, failed = 0, 0
for name in sorted(os.listdir(IN)):
    if os.path.splitext(name)[1].lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
        continue
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(os.path.join(IN, name)))
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", img)
    cfg.set_core_object_array("drawables", [img.get_layers()[0]])
    cfg.set_property("method", env("RESTYLE_METHOD", "arbitrary"))
    cfg.set_property("new-layer", False)  # one layer to save
    if env("RESTYLE_STYLE"):
        cfg.set_property("style-file", Gio.File.new_for_path(env("RESTYLE_STYLE")))
    if env("RESTYLE_BUILTIN"):
        cfg.set_property("builtin-style", env("RESTYLE_BUILTIN"))
    if env("RESTYLE_MODEL"):
        cfg.set_property("model-file", Gio.File.new_for_path(env("RESTYLE_MODEL")))
    cfg.set_property("strength", float(env("RESTYLE_STRENGTH", "1")))
    cfg.set_property("working-size", int(env("RESTYLE_WORKING_SIZE", "0")))
    cfg.set_property("max-seconds", float(env("RESTYLE_MAX_SECONDS", "120")))
    cfg.set_property("device", env("RESTYLE_DEVICE", "cpu"))
    res = proc.run(cfg)
    if res.index(0) != Gimp.PDBStatusType.SUCCESS:
        print("restyle: %s: %s" % (name, res.index(1)), flush=True)
        failed += 1
        img.delete()
        continue
    out = os.path.join(OUT, os.path.splitext(name)[0] + ".png")
    tmp = os.path.join(OUT, ".partial-" + os.path.splitext(name)[0] + ".png")
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path(tmp), None)
    os.replace(tmp, out)
    img.delete()
    done += 1
    print("restyle: %s -> %s" % (name, out), flush=True)
print("restyle: %d stylized, %d failed" % (done, failed), flush=True)
