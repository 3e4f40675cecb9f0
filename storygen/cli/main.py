"""python -m storygen COMMAND: the command line. Bad input exits 2 with one clear line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from storygen.cli import bulk_flags, edit_flags
from storygen.cli.flags import (
    Help,
    Parser,
    Usage,
    add_backend_flags,
    add_bible_flags,
    add_hedge_flags,
    add_price_as,
    add_repair_flags,
    add_sim_server_flags,
)
from storygen.cli.usage import Spelled
from storygen.core import export
from storygen.core.bounds import BATCH_DELAY_S, CONCURRENCY, DURATION_S
from storygen.core.errors import InvalidRequestError, RunFailedError, StoryGenError
from storygen.core.models import STRATEGIES

# Each command's body, imported only when it runs: `--help` and a simulated `generate`
# never load the openai SDK, the web stack or pandas (benchmarks/bench_startup.py).
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("storygen.cli.runs", "cmd_generate"),
    "resume": ("storygen.cli.runs", "cmd_resume"),
    "check": ("storygen.cli.check", "cmd_check"),
    "bench": ("storygen.cli.benchmark", "cmd_bench"),
    "serve-sim": ("storygen.cli.serve_sim", "cmd_serve_sim"),
    "bulk": ("storygen.cli.bulk", "cmd_bulk"),
    "bulk-resume": ("storygen.cli.bulk", "cmd_bulk_resume"),
    "bulk-status": ("storygen.cli.bulk", "cmd_bulk_status"),
    "regenerate": ("storygen.cli.edits", "cmd_regenerate"),
    "edit": ("storygen.cli.edits", "cmd_edit"),
    "export": ("storygen.cli.edits", "cmd_export"),
    "history": ("storygen.cli.edits", "cmd_history"),
    "undo": ("storygen.cli.edits", "cmd_undo"),
}


DESCRIPTION = (
    "Video scripts from one idea, scene by scene, on the embedded simulated LLM (no key, no "
    "network) or an OpenAI-compatible server; serve-sim runs a simulated one on localhost. "
    "Bad input exits 2 with one clear line."
)


def _parser() -> argparse.ArgumentParser:
    root = Parser(prog="python -m storygen", description=DESCRIPTION, formatter_class=Help)
    sub = root.add_subparsers(dest="command", required=True, parser_class=Parser)

    gen = sub.add_parser("generate", help="write one script", formatter_class=Help)
    gen.add_argument("--idea", required=True, help="what the video is about, one sentence")
    gen.add_argument(
        "--duration",
        type=float,
        required=True,
        help=f"video length, {DURATION_S.low}-{DURATION_S.high} s (8 s a scene)",
    )
    gen.add_argument("--strategy", choices=STRATEGIES, default="batched", help="scheduling")
    gen.add_argument(
        "--batch-size",
        "--window",
        "--concurrency",
        dest="concurrency",
        action=Spelled,
        default="5",
        help="batch size (batched) or calls in flight (windowed, outline, pipelined), "
        f"{CONCURRENCY.low}-{CONCURRENCY.high}; "
        "'auto' = keys x per-key concurrency; 'adaptive' finds it at run time",
    )
    gen.add_argument(
        "--max-concurrency",
        type=int,
        default=32,
        help="with --batch-size adaptive: the most calls in flight",
    )
    add_hedge_flags(gen)
    add_bible_flags(gen)
    add_repair_flags(gen)
    gen.add_argument(
        "--lag-allowance",
        type=int,
        default=None,
        help="windowed: scene k waits for scenes 1..k-A (default 2 x window); pipelined: "
        "for their summaries, streamed (default 1: every earlier summary, lag 0)",
    )
    gen.add_argument("--style", default="cinematic", help="visual style")
    gen.add_argument(
        "--language",
        default="en",
        help="an ISO 639 code such as en, es, fr, de or pt-BR; the simulated backend writes "
        "en, es, fr and de, any other in English (and says so)",
    )
    gen.add_argument("--seconds-per-scene", type=float, default=8.0, help="clip length")
    gen.add_argument(
        "--context-scenes", type=int, default=5, help="previous summaries quoted in a prompt"
    )
    gen.add_argument("--seed", type=int, default=0, help="same seed, same simulated latencies")
    gen.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the script here, in the format its suffix names ("
        + ", ".join(export.SUFFIX.values())
        + "); checked before any call (default: script.json in the run directory)",
    )
    gen.add_argument(
        "--format", choices=export.FORMATS, default=None, help="default: from --out's suffix"
    )
    gen.add_argument("--runs-dir", type=Path, default=Path("runs"), help="the run store")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_price_as(gen)
    add_backend_flags(gen)

    res = sub.add_parser(
        "resume",
        help="finish a failed or interrupted run",
        description="Write only the scenes a failed or interrupted run is missing, with the "
        "backend it was started with (keys from the environment).",
        formatter_class=Help,
    )
    res.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="the run directory, e.g. runs/2026..."
    )
    res.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the script here, in the format its suffix names (default: "
        "script.json in the run directory)",
    )
    res.add_argument(
        "--format", choices=export.FORMATS, default=None, help="default: from --out's suffix"
    )
    res.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_price_as(res)

    _add_check_parser(sub)

    bench = sub.add_parser(
        "bench",
        help="compare strategies on the same latencies",
        description="Every strategy and size on the simulated LLM, each meeting the same drawn "
        "latencies; prints wall time, speedup over sequential and continuity.",
        formatter_class=Help,
    )
    bench.add_argument(
        "--idea",
        default="A lighthouse keeper finds a map to a drowned city",
        help="what the video is about",
    )
    bench.add_argument(
        "--duration",
        type=float,
        default=600,
        help=f"video length, {DURATION_S.low}-{DURATION_S.high} s (8 s a scene)",
    )
    bench.add_argument(
        "--batch-sizes",
        default="3,5,10",
        help=f"comma-separated batch sizes or windows, each {CONCURRENCY.low}-"
        f"{CONCURRENCY.high} (sequential runs once)",
    )
    bench.add_argument(
        "--strategies",
        default="sequential,batched,windowed,outline",
        help=f"comma-separated, from {', '.join(STRATEGIES)}",
    )
    bench.add_argument(
        "--time-scale",
        type=float,
        default=0.0125,
        help="simulated latency multiplier (1 = real speed, ~8 s a call)",
    )
    bench.add_argument(
        "--repeat", type=int, default=1, help="runs of each, 1-20; repeat r uses seed + r"
    )
    bench.add_argument("--seed", type=int, default=0, help="same seed, same latencies")
    bench.add_argument(
        "--json", type=Path, default=None, help="write the table here as JSON (default: not)"
    )
    bench.add_argument(
        "--csv", type=Path, default=None, help="write the table here as CSV (default: not)"
    )
    bench.add_argument("--hedge", action="store_true", help="hedge hung calls in every run")
    bench.add_argument("--hang-rate", type=float, default=0.0, help="share of calls that hang, 0-1")
    bench.add_argument(
        "--hang-factor", type=float, default=30.0, help="a hung call takes this x the median"
    )
    bench.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="the simulated server's slots, calls beyond queue (default: no limit)",
    )
    sim = sub.add_parser(
        "serve-sim", help="an OpenAI-compatible simulator on 127.0.0.1", formatter_class=Help
    )
    sim.add_argument("--port", type=int, default=8000, help="the port on 127.0.0.1")
    sim.add_argument(
        "--time-scale", type=float, default=1.0, help="latency multiplier: 1 = real speed"
    )
    sim.add_argument(
        "--rpm",
        type=int,
        default=None,
        help="answer 429 + Retry-After above this (default: no limit)",
    )
    sim.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    sim.add_argument("--malformed-rate", type=float, default=0.0, help="share of broken JSON")
    sim.add_argument("--slow-rate", type=float, default=0.0, help="share of very slow answers")
    sim.add_argument(
        "--slow-seconds", type=float, default=30.0, help="how long a slow answer takes"
    )
    add_sim_server_flags(sim)
    _add_stream_flags(sim)
    sim.add_argument(
        "--api-key",
        action="append",
        default=None,
        help="accept only this key (repeatable); default: any non-empty key",
    )
    sim.add_argument(
        "--structured",
        choices=["json_schema", "json_object", "none", "refuse-500"],
        default="json_schema",
        help="which response_format the server pretends to support; refuse-500 answers "
        "json_schema with llama-cpp-python's HTTP 500",
    )
    sim.add_argument(
        "--context-tokens",
        type=int,
        default=None,
        help="refuse a prompt plus max_tokens above this with OpenAI's context-length 400 "
        "(default: no limit)",
    )
    sim.add_argument(
        "--batch-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="Batch API: real seconds from creating a batch to its completion "
        f"(not scaled by --time-scale; {BATCH_DELAY_S.low}-{BATCH_DELAY_S.high})",
    )
    sim.add_argument(
        "--batch-fail-rate",
        type=float,
        default=0.0,
        help="Batch API: share of lines answered with a 500 in the error file (0-1)",
    )
    sim.add_argument(
        "--batch-expire-rate",
        type=float,
        default=0.0,
        help="Batch API: share of lines never run; the batch ends 'expired' (0-1)",
    )
    sim.add_argument(
        "--max-tokens-limit",
        type=int,
        default=None,
        help="refuse a larger max_tokens with OpenAI's 'supports at most' 400 (default: no limit)",
    )
    bulk_flags.add_parsers(sub)
    edit_flags.add_parsers(sub)
    _hide_suppressed(sub)
    return root


def _hide_suppressed(sub: argparse._SubParsersAction[Parser]) -> None:
    """Leave commands with ``help=argparse.SUPPRESS`` out of --help: argparse before 3.13
    prints them as "==SUPPRESS==", and lists every name among the choices (the metavar)."""
    sub._choices_actions = [a for a in sub._choices_actions if a.help != argparse.SUPPRESS]
    sub.metavar = "command"


def _add_stream_flags(sim: argparse.ArgumentParser) -> None:
    """serve-sim's streaming, compute and rate-header flags: here, not in the command's
    module, so that building the parser loads no command body."""
    sim.add_argument(
        "--no-streaming",
        dest="streaming",
        action="store_false",
        help='refuse "stream": true with a 400 naming the parameter, as a server that '
        "cannot stream does",
    )
    sim.add_argument(
        "--runaway-rate",
        type=float,
        default=0.0,
        help="share of streamed calls that run away: whitespace until max_tokens (0-1)",
    )
    sim.add_argument(
        "--compute-bound",
        action="store_true",
        help="the --capacity slots share one compute, like llama.cpp on a laptop CPU",
    )
    sim.add_argument(
        "--compute-gain",
        type=float,
        default=1.5,
        help="with --compute-bound: the server's most speed, in calls served alone "
        "(default 1.5; 1: no faster for more calls)",
    )
    sim.add_argument(
        "--no-rate-headers",
        dest="rate_headers",
        action="store_false",
        help="send no x-ratelimit-* headers with an --rpm",
    )


def _add_check_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    check = sub.add_parser(
        "check",
        help="continuity findings of a run or an exported script",
        description="Names, looks, narration length and repeats, scene by scene. "
        "Exits 0 when it ran (1 with --strict and findings; 2 when PATH is not a script).",
        formatter_class=Help,
    )
    check.add_argument(
        "path", type=Path, metavar="PATH", help="a run directory or a script exported as JSON"
    )
    check.add_argument("--json", action="store_true", help='print {"findings", "counts"}')
    check.add_argument("--strict", action="store_true", help="exit 1 when there are findings")
    check.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="WORDS_PER_S",
        help="speaking rate (default 2.5 words/s; Chinese and Japanese 5 characters/s)",
    )


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The body of command ``name``, imported now."""
    module, function = COMMANDS[name]
    body: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), function)
    return body


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(bulk_flags.route(list(sys.argv[1:] if argv is None else argv)))
    try:
        return command(args.command)(args)
    except (InvalidRequestError, Usage) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RunFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.run_dir:
            print(
                "finished scenes are saved; continue with: "
                f"python -m storygen resume {exc.run_dir}",
                file=sys.stderr,
            )
        return 1
    except StoryGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder that cannot be written, a port already taken
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: finished scenes are saved; resume the run to finish", file=sys.stderr)
        return 130
