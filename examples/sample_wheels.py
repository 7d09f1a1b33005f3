#!/usr/bin/env python3
"""Write a few small, valid, pure-Python wheels to a directory, for trying piw out.

    python3 examples/sample_wheels.py DIR [NAME VERSION ...]

Without NAME VERSION pairs it writes hello-world 1.0 and 2.0 and piw-demo 0.1. Each wheel holds
one module that prints its name and version; pip installs it like any other.
"""
import base64
import hashlib
import os
import sys
import zipfile


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def write_wheel(directory, name, version):
    dist = name.replace("-", "_")
    module = dist.lower()
    dist_info = f"{dist}-{version}.dist-info"
    files = {
        f"{module}.py": f'def main():\n    print("{name} {version}")\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: a sample wheel for piw\nRequires-Python: >=3.7\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: piw-sample\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [record_line(path, data) for path, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = os.path.join(directory, f"{dist}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in files.items():
            info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return path


def main(argv):
    if len(argv) < 2 or len(argv) % 2 != 0:
        sys.exit(__doc__)
    directory = argv[1]
    os.makedirs(directory, exist_ok=True)
    pairs = list(zip(argv[2::2], argv[3::2])) or [("hello-world", "1.0"), ("hello-world", "2.0"), ("piw-demo", "0.1")]
    for name, version in pairs:
        print(write_wheel(directory, name, version))


if __name__ == "__main__":
    main(sys.argv)
