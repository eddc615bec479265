"""Stylizes every image of a folder with the restyle Krita plug-in's engine,
without a window (kritarunner):

  QT_QPA_PLATFORM=offscreen PYTHONPATH=~/.local/share/krita/pykrita:plugin/examples \\
    kritarunner -s krita_stylize_folder -f main IN_DIR OUT_DIR [key=value ...]

Keys are those of the dialog's options: method=arbitrary|multistyle26|fast|
adain|gatys-improved, style_path=painting.jpg, builtin_style=crimson,
model_path=net.safetensors, strength=0.8, working_size=1024,
max_seconds=60, device=cpu|cuda. Results are PNGs in OUT_DIR (exported under
a temporary name, then renamed); IN_DIR is never written. One network load
for the whole folder.
"""
import os

from krita import InfoObject, Krita

from restyle import engine

NUMBERS = {"strength": float, "working_size": int, "max_seconds": float}


def main(args):
    src, out, *pairs = args
    if os.path.realpath(src) == os.path.realpath(out):
        print("restyle: OUT_DIR must differ from IN_DIR (sources are never overwritten)", flush=True)
        return
    options = {}
    for p in pairs:
        k, _, v = p.partition("=")
        options[k] = NUMBERS.get(k, str)(v)
    os.makedirs(out, exist_ok=True)
    done = failed = 0
    with engine.rb.Context() as ctx:
        for name in sorted(os.listdir(src)):
            if os.path.splitext(name)[1].lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
                continue
            doc = Krita.instance().openDocument(os.path.join(src, name))
            doc.setBatchmode(True)
            try:
                engine.stylize_node(doc, doc.topLevelNodes()[0], options, context=ctx)
                doc.waitForDone()
                dest = os.path.join(out, os.path.splitext(name)[0] + ".png")
                tmp = os.path.join(out, ".partial-" + os.path.splitext(name)[0] + ".png")
                if not doc.exportImage(tmp, InfoObject()):
                    raise engine.rb.RestyleError(5, "Krita could not export %s" % tmp)
                os.replace(tmp, dest)
                done += 1
                print("restyle: %s -> %s" % (name, dest), flush=True)
            except engine.rb.RestyleError as e:
                failed += 1
                print("restyle: %s: %s" % (name, e), flush=True)
            finally:
                doc.close()
    print("restyle: %d stylized, %d failed" % (done, failed), flush=True)
