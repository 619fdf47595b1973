"""Decode every golden MessagePack frame with the reference Python library.

Usage: golden_check.py DIR

Prints one JSON object that maps each DIR/*.msgpack file name to its
decoded value. Frames are decoded with raw=False, so str becomes Python
str; a bin value would become bytes, and is printed as {"__bin__": HEX}
so that the Go test can report it. An extension value is printed as
{"__ext__": [CODE, HEX]}.
"""

import json
import pathlib
import sys

import msgpack


def plain(value):
    """Convert a decoded value to something json.dumps accepts."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return {"__bin__": bytes(value).hex()}
    if isinstance(value, msgpack.ExtType):
        return {"__ext__": [value.code, value.data.hex()]}
    if isinstance(value, msgpack.Timestamp):
        return {"__ext__": [-1, value.to_bytes().hex()]}
    return value


def main():
    directory = pathlib.Path(sys.argv[1])
    decoded = {}
    for path in sorted(directory.glob("*.msgpack")):
        # strict_map_key rejects keys that are neither str nor bytes.
        value = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=True)
        decoded[path.name] = plain(value)
    json.dump(decoded, sys.stdout, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
