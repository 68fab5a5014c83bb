"""The ``ssl-core`` command: run, eval, compare, export, sweep, plugins, and the commands plugins add."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings

from ssl_core.errors import SslCoreError


def _cmd_run(args) -> int:
    """Train and evaluate one pipeline; given several, each in turn, then one comparison table of them all."""
    from pathlib import Path

    pipelines, overrides = split_pipelines(args.pipeline, args.overrides)
    run_dirs = []
    for pipeline in pipelines:
        code, run_dir = _run_pipeline(pipeline, overrides, args.resume)
        if code or run_dir is None:
            return code
        run_dirs.append(run_dir)
    if len(run_dirs) > 1 and all((Path(d) / "results.json").exists() for d in run_dirs):
        from ssl_core.compare import default_out, to_markdown, write_comparison

        out = default_out(run_dirs)
        print(to_markdown(write_comparison(run_dirs, out)))
        print(f"[ssl-core] comparison of {len(run_dirs)} runs written: {out}/comparison.md, comparison.csv, "
              "comparison.png")
    return 0


def split_pipelines(first: str, rest: list[str]) -> tuple[list[str], list[str]]:
    """``run A.yaml [B.yaml ...] [key=value ...]``: the pipeline files, then the overrides (applied to each)."""
    pipelines, overrides = [first], []
    for item in rest:
        if "=" in item:
            overrides.append(item)
        elif not item.endswith((".yaml", ".yml")):
            raise ValueError(f"'{item}' is neither a pipeline file (.yaml) nor a key=value override, "
                             f"e.g. train.epochs=5")
        elif overrides:
            raise ValueError(f"'{item}' follows the overrides: give every pipeline file first, then the "
                             f"key=value overrides (which apply to each pipeline)")
        else:
            pipelines.append(item)
    return pipelines, overrides


def _run_pipeline(pipeline: str, overrides: list[str], resume: bool):
    """Train and evaluate one pipeline: (exit code, run folder or ``None`` on a non-zero DDP rank)."""
    import ssl_core
    from ssl_core.config import load_config

    registry = ssl_core.registry()
    config = load_config(pipeline, overrides, registry)  # before Lightning is imported: errors come fast
    from ssl_core.harness import evaluate_run
    from ssl_core.run import MODEL_FILE, run_dir_of, train
    from ssl_core.preemption import requeue_on_sigusr1
    from ssl_core.run_lock import hold_run_folder

    # training and evaluation with no other process in between; under SLURM, SIGUSR1 requeues throughout
    with hold_run_folder(run_dir_of(config)), requeue_on_sigusr1("the run"):
        run_dir = train(config, registry, resume=resume)
        if run_dir is None:  # a non-zero DDP rank: rank 0 evaluates
            return 0, None
        if not (run_dir / MODEL_FILE).exists():
            print(f"[ssl-core] training stopped early; continue with: ssl-core run {pipeline} "
                  f"{' '.join(overrides)} --resume".replace("  ", " "))
            return 1, run_dir
        if config.values["evaluate"]:
            evaluate_run(run_dir, registry)
            print((run_dir / "results.md").read_text())
    print(f"[ssl-core] run folder: {run_dir}")
    return 0, run_dir


def _cmd_validate(args) -> int:
    """Every check ``run`` makes before training, nothing trained: the file, the run folder, the built pipeline."""
    import ssl_core
    from ssl_core.config import load_config
    from ssl_core.devices import resolve_device
    from ssl_core.pipeline import build, build_pipeline
    from ssl_core.run_folder import check_run_folder, run_dir_of

    registry = ssl_core.registry()
    config = load_config(args.pipeline, args.overrides, registry)
    check_run_folder(config, args.resume)
    pipeline = build_pipeline(config, registry)
    for i, spec in enumerate(config.values["evaluate"]):
        build(config, registry, "evaluator", spec["name"], spec["params"], ("evaluate", i, "params"))
    values = config.values
    device = resolve_device(values["eval_options"]["device"], values["train"]["accelerator"], values["train"]["devices"])
    print(f"[ssl-core] {args.pipeline} is valid: run '{values['name']}' into {run_dir_of(config)}, "
          f"{len(pipeline.train_data)} training items, {pipeline.steps_per_epoch} steps per epoch, "
          f"{len(values['evaluate'])} evaluator(s) on {device}; nothing was trained")
    return 0


def _cmd_eval(args) -> int:
    from pathlib import Path

    from ssl_core.harness import EVALUATIONS, evaluate_run, evaluation_name

    run_dir = Path(args.run_dir)
    name = args.name or (evaluation_name(args.overrides) if args.overrides else None)
    out = run_dir if name is None else run_dir / EVALUATIONS / name
    replaced = out / "results.json"
    if replaced.exists():
        try:
            previous = json.loads(replaced.read_text())
            listed = ", ".join(dict.fromkeys(r["evaluator"] for r in previous.get("evaluations", []))) or "no evaluator"
        except (ValueError, KeyError, TypeError, AttributeError):  # damaged or half-written: replaced all the same
            listed = "unreadable"
        print(f"[ssl-core] this evaluation replaces {replaced} ({listed}); name a new one with --name NAME")
    evaluate_run(run_dir, overrides=args.overrides, name=name)
    print((out / "results.md").read_text())
    print(f"[ssl-core] written: {out / 'results.json'}, {out / 'results.md'}")
    return 0


def _cmd_compare(args) -> int:
    from pathlib import Path

    from ssl_core.compare import default_out, to_markdown, write_comparison

    out = Path(args.out) if args.out else default_out(args.run_dirs)
    comparison = write_comparison(args.run_dirs, out)
    print(to_markdown(comparison))
    print(f"[ssl-core] written: {out}/comparison.md, comparison.csv, comparison.png")
    return 0


def _cmd_export(args) -> int:
    from ssl_core.export import export

    path, note = export(args.run_dir, args.format, args.out, args.options)
    print(f"[ssl-core] wrote the {args.format} backbone to {path}: {note}")
    return 0


def _cmd_sweep(args) -> int:
    from ssl_core.sweep import SweepInterrupted, sweep, to_markdown

    overrides, seeds = list(args.overrides), args.seeds
    if seeds is not None:  # --seeds takes every word after it: key=value overrides that followed it are overrides
        overrides += [s for s in seeds if "=" in s]
        seeds = [s for s in seeds if "=" not in s]
    try:
        summary = sweep(args.pipeline, args.param, args.values, overrides, out=args.out, resume=args.resume,
                        seeds=seeds)
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


def _json_value(value):
    """A default as a JSON value: tuples as lists, anything JSON cannot hold as its repr."""
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def pipeline_settings() -> list[dict]:
    """Every leaf key of the pipeline schema that is not a component (``train.*``, its optimizer and schedule, ...)."""
    from ssl_core.schema import SCHEMA, Field
    from ssl_core.params import describe_type

    rows = []

    def walk(schema: dict, prefix: str) -> None:
        for key, spec in schema.items():
            dotted = f"{prefix}{key}"
            if isinstance(spec, dict):
                walk(spec, dotted + ".")
            elif isinstance(spec, Field) and spec.kind is None and not key == "params":
                types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
                rows.append({"key": dotted, "type": " | ".join(describe_type(t) for t in types), "default": _json_value(spec.default),
                             "required": spec.required, "doc": spec.doc})

    walk(SCHEMA, "")
    return rows


def _cmd_plugins(args) -> int:
    import ssl_core
    from ssl_core.docstrings import param_docs

    registry = ssl_core.registry()
    listing = {}
    for kind in registry.kinds():
        listing[kind] = []
        for c in registry.components(kind):
            docs = param_docs(c.factory)
            listing[kind].append({
                "name": c.name, "plugin": c.plugin, "doc": c.doc(),
                "params": [{"name": p.name, "type": p.describe().split(": ", 1)[1].split(" = ")[0],
                            "default": None if p.required else _json_value(p.default), "required": p.required,
                            "doc": docs.get(p.name, "")} for p in c.params()]})
    errors = [{"plugin": e.plugin, "error": e.message} for e in registry.load_errors]
    settings = pipeline_settings()
    if args.json:
        print(json.dumps({"components": listing, "settings": settings, "load_errors": errors}, indent=2))
        return 0
    for kind, components in listing.items():
        print(f"{kind if kind.endswith('s') else kind + 's'}:")
        for c in components:
            print(f"  {c['name']:<22} [{c['plugin']}] {c['doc']}")
            for p, param in zip(registry.get(kind, c["name"]).params(), c["params"]):
                print(f"      {p.describe()}" + (f"  -- {param['doc']}" if param["doc"] else ""))
        if not components:
            print("  (none)")
    print("pipeline settings (train.*, its optimizer and schedule, data, eval_options):")
    for row in settings:
        default = "required" if row["required"] else json.dumps(row["default"])
        print(f"  {row['key']}: {row['type']} = {default}" + (f"  -- {row['doc']}" if row["doc"] else ""))
    for e in errors:
        print(f"plugin not loaded: {e['plugin']}: {e['error']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssl-core", description="Self-supervised representation learning on images "
                                     "and speech: train a YAML pipeline, evaluate it, list the plugins.")
    from ssl_core import __version__

    parser.add_argument("--version", action="version", version=f"ssl-core {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_IntermixedParser)
    run = sub.add_parser("run", help="train a pipeline, then run its evaluators",
                         description="Train PIPELINE.yaml into its run folder, then evaluate it. "
                                     "Overrides: dotted key=value pairs, e.g. train.epochs=5 output=runs/try.")
    run.add_argument("pipeline", help="the pipeline file (YAML); more files may follow, each run in turn and "
                                      "compared in one table at the end")
    run.add_argument("overrides", nargs="*", help="more pipeline files, then key=value overrides applied to each, "
                                                  "e.g. train.epochs=5")
    run.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    run.set_defaults(func=_cmd_run)
    val = sub.add_parser("validate", help="every check run makes (file, run folder, built pipeline), nothing trained",
                         description="Check PIPELINE.yaml with its overrides as ssl-core run would -- keys, types, "
                                     "component names and parameters, the run folder, building the data, views, "
                                     "encoder, objective and evaluators -- and train nothing.")
    val.add_argument("pipeline", help="the pipeline file (YAML)")
    val.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=5")
    val.add_argument("--resume", action="store_true", help="check that the run can be resumed instead")
    val.set_defaults(func=_cmd_validate)
    ev = sub.add_parser("eval", help="evaluate a trained run folder again, with other evaluators if given",
                        description="Run the evaluators again on a trained run. With overrides of evaluate or "
                                    "eval_options.* (e.g. 'evaluate=[{name: knn, params: {k: 200}}]') the results "
                                    "go to RUN_DIR/evaluations/<name>/ (name from --name, or made from the "
                                    "overrides); without, they replace the run's results.json, and the command says "
                                    "so.")
    ev.add_argument("run_dir")
    ev.add_argument("overrides", nargs="*", help="overrides of evaluate / eval_options.*")
    ev.add_argument("--name", default=None, help="write to RUN_DIR/evaluations/NAME/ (default: made from the overrides)")
    ev.set_defaults(func=_cmd_eval)
    cmp = sub.add_parser("compare", help="one table of every metric across run folders, flagging mismatched protocols")
    cmp.add_argument("run_dirs", nargs="+")
    cmp.add_argument("--out", default=None, help="folder for comparison.md / .csv / .png (default: comparison/ "
                                                 "beside the runs, in the folder holding them)")
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
                                    "Writes sweep.md, sweep.csv and sweep.png (every metric against the value). "
                                    "With --seeds, every value at every seed, in <out>/<key>=<value>_seed=<seed>: "
                                    "the table gives mean ± sample std over the seeds and each seed's value, the "
                                    "plot the mean with error bars.")
    sw.add_argument("pipeline", help="the pipeline file (YAML)")
    sw.add_argument("overrides", nargs="*", help="key=value overrides applied to every run, e.g. train.epochs=5")
    sw.add_argument("--param", required=True, help="the dotted key to sweep, e.g. objective.params.p")
    sw.add_argument("--values", required=True, help="comma-separated YAML values, e.g. 0.05,0.1,0.2,0.3,0.4")
    sw.add_argument("--out", default=None, help="the sweep's folder (default: the pipeline's output)")
    sw.add_argument("--seeds", nargs="*", default=None, metavar="SEED",
                    help="run every value at each of these seeds, e.g. --seeds 0 1 2 (default: once, at the "
                         "pipeline's own seed)")
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
    from ssl_core import run_lock

    run_lock.command = " ".join(["ssl-core", *(sys.argv[1:] if argv is None else argv)])  # named by a busy folder
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    # Lightning's start-up chatter (accelerator lines, advertising tips) hides what matters.
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    from ssl_core.preempted import Preempted

    try:
        return args.func(args)
    except (SslCoreError, FileNotFoundError, PermissionError, ValueError) as exc:
        print(f"ssl-core: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine's fault, not ssl-core's: a full disk where no message names more
        from ssl_core.atomic_write import is_disk_full

        if not is_disk_full(exc):
            raise
        print(f"ssl-core: error: cannot write {exc.filename or 'a file'}: no space left on its disk; free some "
              f"space (files written before are complete; --resume continues a run)", file=sys.stderr)
        return 2
    except Preempted as exc:  # SIGTERM / SIGINT during training: a checkpoint of the current step was saved
        print(f"[ssl-core] {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C outside the training loop (building, evaluating): nothing half-written
        print("[ssl-core] interrupted; every file written so far is complete (--resume, or ssl-core eval, "
              "continues)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
