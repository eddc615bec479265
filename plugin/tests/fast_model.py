#!/usr/bin/env python3
"""Places a fast network the way `restyle weights import FILE --name NAME`
stores it: DIR/fast-NAME.safetensors with `restyle_model` = fast-NAME in its
metadata. The weights are the project's trained starry_night network
(core/models/), so the tests need no download.

  python3 fast_model.py DIR NAME     # prints the path written
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EMBEDDED = os.path.join(HERE, "..", "..", "core", "models", "starry_night.safetensors")


def place_fast_model(folder, name):
    with open(EMBEDDED, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, data = json.loads(f.read(n)), f.read()
    header["__metadata__"] = dict(header.get("__metadata__") or {}, restyle_model="fast-" + name)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors keeps the data 8-byte aligned
    path = os.path.join(folder, "fast-%s.safetensors" % name)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + data)
    return path


if __name__ == "__main__":
    print(place_fast_model(sys.argv[1], sys.argv[2]))
