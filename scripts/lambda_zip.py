"""Lambda deployment packages (a zip holding an executable `bootstrap`): make one, or check one.

  python scripts/lambda_zip.py pack BINARY ZIP
  python scripts/lambda_zip.py check ZIP ARCH     (ARCH: x86_64 | arm64)

`check` refuses a package whose bootstrap is not an ELF executable for ARCH (read from its ELF
header), or that needs a glibc newer than Amazon Linux 2023's 2.34 (read from its symbol version
requirements with readelf, which reads any architecture's ELF). It prints one line: the zip, its architecture, its glibc floor, its size.
"""

import os
import re
import subprocess
import sys
import tempfile
import zipfile

MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}
GLIBC_CEILING = (2, 34)


def pack(binary: str, dst: str) -> None:
    info = zipfile.ZipInfo("bootstrap")
    info.external_attr = 0o100755 << 16  # Lambda runs `bootstrap`: it must be executable
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(dst, "w") as z, open(binary, "rb") as f:
        z.writestr(info, f.read())


def fail(msg: str, fix: str) -> None:
    print(f"[stoker] error: {msg}\n  fix: {fix}", file=sys.stderr)
    sys.exit(1)


def check(path: str, arch: str) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read("bootstrap")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        fail(f"{path} is not a Lambda package with a bootstrap ({e})", "build it with ./scripts/build-lambda")
    if data[:4] != b"\x7fELF" or data[4] != 2:
        fail(f"{path}: bootstrap is not a 64-bit ELF executable", "build it with ./scripts/build-lambda")
    machine = MACHINES.get(int.from_bytes(data[18:20], "little"), f"machine {data[18:20].hex()}")
    if machine != arch:
        fail(f"{path} holds a {machine} bootstrap, but the stack's Architecture is {arch}",
             f"build for {arch}: ./scripts/build-lambda --release --arch {arch}")
    with tempfile.NamedTemporaryFile() as t:
        t.write(data)
        t.flush()
        out = subprocess.run(["readelf", "--version-info", "--wide", t.name],
                             capture_output=True, text=True, check=True).stdout
    versions = sorted({tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)})
    floor = versions[-1] if versions else (0,)
    shown = ".".join(map(str, floor))
    if floor > GLIBC_CEILING:
        fail(f"{path} needs GLIBC_{shown}; provided.al2023 has 2.34",
             "build with ./scripts/build-lambda (cargo-lambda links against an older glibc)")
    print(f"{path}: {machine}, needs GLIBC_{shown} (at most 2.34), {os.path.getsize(path) / 1048576:.1f} MiB")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "pack":
        pack(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        fail("usage: lambda_zip.py pack BINARY ZIP | check ZIP ARCH", "see the docstring")
