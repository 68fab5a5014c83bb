"""``ssl-core codes RUN_DIR``: the subcommand that writes a trained run's activation codes (added by this plugin)."""

from __future__ import annotations


def add_codes_command(subparsers) -> None:
    """Add ``codes`` to the ``ssl-core`` sub-parsers (hook ``ssl_core_add_commands``)."""
    codes = subparsers.add_parser(
        "codes", help="write the activation codes sign(embed(x)) of a trained run's data (.npz)",
        description="Encode one split of a trained run's dataset (eval transform, dataset order) "
                    "and write its binary codes sign(embed(x)) -- NAC's hash codes -- packed with "
                    "numpy.packbits (big bit order), with the items' indices and labels; read them "
                    "with ssl_nac.activation_codes.load_codes.")
    codes.add_argument("run_dir")
    codes.add_argument("--split", default="test", help="the dataset split encoded (default: test)")
    codes.add_argument("--out", default=None, help="output .npz (default: RUN_DIR/codes_<split>.npz)")
    codes.set_defaults(func=run_codes_command)


def run_codes_command(args) -> int:
    import numpy as np

    from ssl_nac.activation_codes import run_codes

    codes, path = run_codes(args.run_dir, args.split, args.out)
    distinct = len(np.unique(codes.packed, axis=0))
    print(f"[ssl-core] wrote the {codes.num_bits}-bit codes sign(embed(x)) of {len(codes.indices)} items "
          f"({args.split} split, {distinct} distinct) to {path}")
    return 0
