"""Regenerate data/xordata.pkl, the public XOR data, deterministically.

Usage: python data/make_xor.py [--out PATH]
The distribution is documented in grader/backprop/xor.py and in the README.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

from grader.backprop.xor import make_dataset

PUBLIC_SEED = 20261126
PICKLE_PROTOCOL = 4  # fixed so the committed bytes do not change with the Python version


def write(out: Path) -> dict:
    data = make_dataset(PUBLIC_SEED)
    out.write_bytes(pickle.dumps(data, protocol=PICKLE_PROTOCOL))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("xordata.pkl"),
                        help="where to write the pickle (default: data/xordata.pkl)")
    args = parser.parse_args(argv)
    data = write(args.out)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in data.items())
    print(f"wrote {args.out}: {shapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
