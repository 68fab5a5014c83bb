"""The ``ssl-core`` command: run, eval, compare, export, sweep, plugins, and the commands plugins add."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

from ssl_core.errors import SslCoreError


def _cmd_run(args) -> int:
    import ssl_core
    from ssl_core.config import load_config
    from ssl_core.harness import evaluate_run
    from ssl_core.run import MODEL_FILE, train

    registry = ssl_core.registry()
    config = load_config(args.pipeline, args.overrides, registry)
    run_dir = train(config, registry, resume=args.resume)
    if run_dir is None:  # a non-zero DDP rank: rank 0 evaluates
        return 0
    if not (run_dir / MODEL_FILE).exists():
        print(f"[ssl-core] training stopped early; continue with: ssl-core run {args.pipeline} "
              f"{' '.join(args.overrides)} --resume".replace("  ", " "))
        return 1
    if config.values["evaluate"]:
        evaluate_run(run_dir, registry)
        print((run_dir / "results.md").read_text())
    print(f"[ssl-core] run folder: {run_dir}")
    return 0


def _cmd_eval(args) -> int:
    from ssl_core.harness import evaluate_run

    evaluate_run(args.run_dir)
    print(open(os.path.join(args.run_dir, "results.md")).read())
    return 0


def _cmd_compare(args) -> int:
    from pathlib import Path

    from ssl_core.compare import to_markdown, write_comparison

    comparison = write_comparison(args.run_dirs, Path(args.out))
    print(to_markdown(comparison))
    print(f"[ssl-core] written: {args.out}/comparison.md, comparison.csv, comparison.png")
    return 0


def _cmd_export(args) -> int:
    from ssl_core.export import export

    path, note = export(args.run_dir, args.format, args.out, args.options)
    print(f"[ssl-core] wrote the {args.format} backbone to {path}: {note}")
    return 0


def _cmd_sweep(args) -> int:
    from ssl_core.sweep import SweepInterrupted, sweep, to_markdown

    try:
        summary = sweep(args.pipeline, args.param, args.values, args.overrides, out=args.out, resume=args.resume)
    except SweepInterrupted as exc:
        print(f"[ssl-core] {exc}")
        return 1
    print(to_markdown(summary))
    print(f"[ssl-core] written: {summary['out']}/sweep.md, sweep.csv, sweep.png")
    return 0


class _IntermixedParser(argparse.ArgumentParser):
    """Options and positional key=value overrides in any order (``--values 0.1,0.4 train.epochs=5 --resume``)."""

    def parse_known_args(self, args=None, namespace=None):
        if getattr(self, "_intermixing", False):
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _cmd_plugins(args) -> int:
    import ssl_core

    registry = ssl_core.registry()
    listing = {
        kind: [{"name": c.name, "plugin": c.plugin, "doc": c.doc(),
                "params": [{"name": p.name, "type": p.describe().split(": ", 1)[1].split(" = ")[0],
                            "default": None if p.required else repr(p.default), "required": p.required}
                           for p in c.params()]}
               for c in registry.components(kind)]
        for kind in registry.kinds()
    }
    errors = [{"plugin": e.plugin, "error": e.message} for e in registry.load_errors]
    if args.json:
        print(json.dumps({"components": listing, "load_errors": errors}, indent=2))
        return 0
    for kind, components in listing.items():
        print(f"{kind if kind.endswith('s') else kind + 's'}:")
        for c in components:
            print(f"  {c['name']:<22} [{c['plugin']}] {c['doc']}")
            for p in registry.get(kind, c["name"]).params():
                print(f"      {p.describe()}")
        if not components:
            print("  (none)")
    for e in errors:
        print(f"plugin not loaded: {e['plugin']}: {e['error']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssl-core", description="Self-supervised representation learning on images "
                                     "and speech: train a YAML pipeline, evaluate it, list the plugins.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_IntermixedParser)
    run = sub.add_parser("run", help="train a pipeline, then run its evaluators",
                         description="Train PIPELINE.yaml into its run folder, then evaluate it. "
                                     "Overrides: dotted key=value pairs, e.g. train.epochs=5 output=runs/try.")
    run.add_argument("pipeline", help="the pipeline file (YAML)")
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=5")
    run.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    run.set_defaults(func=_cmd_run)
    ev = sub.add_parser("eval", help="evaluate a trained run folder again")
    ev.add_argument("run_dir")
    ev.set_defaults(func=_cmd_eval)
    cmp = sub.add_parser("compare", help="one table of every metric across run folders, flagging mismatched protocols")
    cmp.add_argument("run_dirs", nargs="+")
    cmp.add_argument("--out", default="comparison", help="folder for comparison.md / .csv / .png (default: comparison)")
    cmp.set_defaults(func=_cmd_compare)
    exp = sub.add_parser("export", help="write the pretrained backbone for another tool (torchvision, Detectron2 ...)",
                         description="Write a trained run's backbone in an export format that a plugin provides "
                                     "(ssl-core plugins lists them under export_formats, with their options).")
    exp.add_argument("run_dir")
    exp.add_argument("options", nargs="*", help="the format's options as key=value, e.g. num_classes=10")
    exp.add_argument("--format", default="torchvision", help="the export format (default: torchvision)")
    exp.add_argument("--out", default=None, help="output file (default: in the run folder)")
    exp.set_defaults(func=_cmd_export)
    sw = sub.add_parser("sweep", help="train and evaluate a pipeline once per value of one key; table and plot",
                        description="Train and evaluate PIPELINE.yaml once per value of --param, each in its own run "
                                    "folder <out>/<key>=<value>; values already finished are not trained again. "
                                    "Writes sweep.md, sweep.csv and sweep.png (every metric against the value).")
    sw.add_argument("pipeline", help="the pipeline file (YAML)")
    sw.add_argument("overrides", nargs="*", help="key=value overrides applied to every run, e.g. train.epochs=5")
    sw.add_argument("--param", required=True, help="the dotted key to sweep, e.g. objective.params.p")
    sw.add_argument("--values", required=True, help="comma-separated YAML values, e.g. 0.05,0.1,0.2,0.3,0.4")
    sw.add_argument("--out", default=None, help="the sweep's folder (default: the pipeline's output)")
    sw.add_argument("--resume", action="store_true", help="continue interrupted runs from their last checkpoint")
    sw.set_defaults(func=_cmd_sweep)
    plugins = sub.add_parser("plugins", help="list every component by kind, with its plugin and params")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=_cmd_plugins)
    add_plugin_commands(sub)
    return parser


def add_plugin_commands(subparsers, registry=None) -> None:
    """Let every plugin add its subcommands (hook ``ssl_core_add_commands``); a faulty one is reported and skipped."""
    import ssl_core

    registry = registry or ssl_core.registry()
    for impl in registry.plugin_manager.hook.ssl_core_add_commands.get_hookimpls():
        names, helps = set(subparsers.choices), len(subparsers._choices_actions)
        try:
            impl.function(subparsers)
        except Exception as exc:  # argparse refuses a name already taken; a broken hook must not break the CLI
            for name in set(subparsers.choices) - names:  # drop what the failed hook half-added
                del subparsers.choices[name]
            del subparsers._choices_actions[helps:]
            warnings.warn(f"ssl-core plugin '{impl.plugin_name}': its commands were not added: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    # Lightning's start-up chatter (accelerator lines, advertising tips) hides what matters.
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (SslCoreError, FileNotFoundError, ValueError) as exc:
        print(f"ssl-core: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
