"""The flags the commands share, and how their values are checked: one place, one wording."""

from __future__ import annotations

import argparse
from typing import NoReturn

from pydantic import ValidationError

from storygen.backends.config import BackendConfig, openai_config_from_env
from storygen.cli.usage import Usage as Usage  # raised by every command: importable here
from storygen.cli.usage import named_flags
from storygen.core.bounds import CAPACITY, CONCURRENCY, HANG_FACTOR, SHARE
from storygen.core.models import HedgeSettings, ScriptRequest
from storygen.core.tasks import Backend


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line and a pointer to --help, not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


class Help(argparse.HelpFormatter):
    """A flag's default in --help, where it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        # ``is``, not ``in``: 0 == False, and a default of 0 is worth saying
        if any(default is no for no in (None, False, argparse.SUPPRESS)) or default == "":
            return text
        if "default" in text:
            return text
        return f"{text} (default: %(default)s)".lstrip()


def int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise Usage(f"{flag} takes whole numbers separated by commas (got {text!r})") from None
    if not values:
        raise Usage(f"{flag} needs at least one number")
    return values


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend")
    g.add_argument(
        "--backend",
        choices=["simulated", "openai"],
        default="simulated",
        help="the embedded simulated LLM (no key, no network) or an OpenAI-compatible server",
    )
    g.add_argument("--attempts", type=int, default=4, help="attempts per call (1-20)")
    sim = p.add_argument_group("simulated backend")
    sim.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="simulated latency multiplier: 1 = real speed, ~8 s a call (the default); "
        "0.01 for demos",
    )
    sim.add_argument(
        "--error-rate", type=float, default=0.0, help="share of calls with a transient error"
    )
    sim.add_argument(
        "--sim-rpm",
        type=int,
        default=None,
        help="the simulated provider's requests-per-minute limit, answered with 429 "
        "(default: no limit)",
    )
    sim.add_argument(
        "--fail-scenes",
        default="",
        help="comma-separated scenes that fail permanently, to try failure and resume "
        "(default: none)",
    )
    add_sim_server_flags(sim)
    oa = p.add_argument_group(
        "OpenAI-compatible backend (keys from OPENAI_API_KEY or STORYGEN_API_KEYS)"
    )
    oa.add_argument(
        "--base-url",
        default=None,
        help="e.g. http://localhost:11434/v1 (Ollama) (default: OPENAI_BASE_URL, else "
        "https://api.openai.com/v1)",
    )
    oa.add_argument("--model", default=None, help="default gpt-4o-mini, or STORYGEN_MODEL")
    oa.add_argument("--temperature", type=float, default=None, help="default 0.9")
    oa.add_argument(
        "--max-tokens", type=int, default=None, help="default: sized to the answer asked for"
    )
    oa.add_argument("--timeout", type=float, default=None, help="seconds per request, default 60")
    oa.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stream every call: cuts runaway answers early; pipelined always streams "
        "(default: --no-stream)",
    )
    oa.add_argument(
        "--first-token-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a streamed call whose first token is later is retried, default 20 "
        "(never above --timeout)",
    )
    oa.add_argument(
        "--rpm",
        type=int,
        default=None,
        help="client-side requests-per-minute limit (default: none; the provider's 429s "
        "are still obeyed)",
    )
    oa.add_argument(
        "--tpm", type=int, default=None, help="client-side tokens-per-minute limit (default: none)"
    )
    oa.add_argument(
        "--per-key-concurrency", type=int, default=None, help="calls in flight per key, default 8"
    )
    oa.add_argument(
        "--rate-window",
        type=float,
        default=None,
        help="seconds of the provider's rate window, default 60",
    )


def add_sim_server_flags(g: argparse._ActionsContainer) -> None:
    """The simulated server's hang fault and slots, in-process and in serve-sim alike."""
    g.add_argument(
        "--hang-rate",
        type=float,
        default=None,
        help=f"share of calls that hang, {SHARE.low}-{SHARE.high} (default 0: none)",
    )
    g.add_argument(
        "--hang-factor",
        type=float,
        default=None,
        help="a hung call takes this many times the median latency, "
        f"{HANG_FACTOR.low}-{HANG_FACTOR.high} (default 30)",
    )
    g.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="calls served at once, like a local server's slots; more queue (default: no limit)",
    )


def check_sim_server_flags(args: argparse.Namespace) -> None:
    for flag, value, bound in (
        ("--hang-rate", args.hang_rate, SHARE),
        ("--hang-factor", args.hang_factor, HANG_FACTOR),
        ("--capacity", args.capacity, CAPACITY),
    ):
        if value is not None and value not in bound:
            raise Usage(f"{flag} must be between {bound.low} and {bound.high} (got {value})")


def usd(text: str) -> float:
    """A --max-cost: dollars, 0 or more."""
    try:
        value = float(text.strip().removeprefix("$"))
    except ValueError:
        value = -1.0
    if not (0 <= value < float("inf")):  # NaN fails this too
        raise argparse.ArgumentTypeError(f"takes US dollars, 0 or more, e.g. 0.50 (got {text!r})")
    return value


def add_price_as(p: argparse.ArgumentParser, max_cost: bool = True) -> None:
    """The money flags: how a simulated run is priced, and the spend cap (``max_cost``)."""
    p.add_argument(
        "--price-as",
        default="gpt-4o-mini",
        metavar="MODEL",
        help="a simulated run's tokens are priced as this model's",
    )
    if not max_cost:
        return
    p.add_argument(
        "--max-cost",
        type=usd,
        default=None,
        metavar="USD",
        help="a spend cap on this command's calls on a priced model: a run estimated over "
        "it is refused before any call; one that spends it starts no more calls and is "
        "marked interrupted, every scene kept (resume finishes it) (default: no cap)",
    )


_OPENAI_ONLY = {
    "base_url": "--base-url",
    "model": "--model",
    "temperature": "--temperature",
    "max_tokens": "--max-tokens",
    "timeout": "--timeout",
    "stream": "--stream",
    "first_token_timeout": "--first-token-timeout",
    "rpm": "--rpm",
    "tpm": "--tpm",
    "per_key_concurrency": "--per-key-concurrency",
    "rate_window": "--rate-window",
}
_SIMULATED_ONLY = {
    "time_scale": "--time-scale",
    "error_rate": "--error-rate",
    "sim_rpm": "--sim-rpm",
    "fail_scenes": "--fail-scenes",
    "hang_rate": "--hang-rate",
    "hang_factor": "--hang-factor",
    "capacity": "--capacity",
}


def check_backend_flags(args: argparse.Namespace) -> None:
    """A flag of the other backend would be silently ignored: say so instead."""
    given = [
        flag
        for name, flag in (_SIMULATED_ONLY if args.backend == "openai" else _OPENAI_ONLY).items()
        if getattr(args, name) not in (None, "", 0.0)
    ]
    if not given:
        return
    if args.backend == "openai":
        raise Usage(f"{given[0]} applies to the simulated backend only, not --backend openai")
    hint = " (the simulated provider's own limit is --sim-rpm)" if given[0] == "--rpm" else ""
    raise Usage(f"{given[0]} applies to --backend openai only{hint}")


def fail_scenes_of(args: argparse.Namespace, total: int) -> list[int]:
    scenes = int_list(args.fail_scenes, "--fail-scenes") if args.fail_scenes else []
    if bad := [k for k in scenes if not 1 <= k <= total]:
        raise Usage(f"--fail-scenes: scene {bad[0]} is outside 1..{total} (this video's scenes)")
    return scenes


def backend_config(args: argparse.Namespace) -> BackendConfig:
    check_backend_flags(args)
    with named_flags(args):
        return _config(args)


def _config(args: argparse.Namespace) -> BackendConfig:
    if args.backend == "openai":
        return openai_config_from_env(
            base_url=args.base_url,
            model=args.model,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            timeout_s=args.timeout,
            stream=args.stream,
            first_token_timeout_s=args.first_token_timeout,
            rpm=args.rpm,
            tpm=args.tpm,
            per_key_concurrency=args.per_key_concurrency,
            rate_window_s=args.rate_window,
        )
    return BackendConfig.build_config(
        kind="simulated",
        time_scale=1.0 if args.time_scale is None else args.time_scale,
        error_rate=args.error_rate,
        sim_rpm=args.sim_rpm,
        **{
            name: getattr(args, name)
            for name in ("hang_rate", "hang_factor", "capacity")
            if getattr(args, name) is not None
        },
    )


def concurrency_value(text: str, backend: Backend, most: int, flag: str = "--batch-size") -> int:
    if text == "auto":
        return min(int(CONCURRENCY.high), int(getattr(backend, "capacity", 5)))
    if text == "adaptive":
        return most
    try:
        return int(text)
    except ValueError:
        raise Usage(
            f"{flag} takes a whole number {CONCURRENCY.low}-{CONCURRENCY.high}, "
            f"'auto' or 'adaptive' (got {text!r})"
        ) from None


def hedge_settings(args: argparse.Namespace) -> HedgeSettings | None:
    if args.no_hedge:
        if args.hedge_after is not None:
            raise Usage("--hedge-after and --no-hedge contradict each other: choose one")
        return None
    try:
        return HedgeSettings(after_s=args.hedge_after, budget=args.hedge_budget)
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = "--hedge-after" if err["loc"][0] == "after_s" else "--hedge-budget"
        raise Usage(f"{flag}: {err['msg']} (got {err.get('input')!r})") from None


def add_bible_flags(p: argparse.ArgumentParser) -> None:
    """``--bible/--no-bible``; not given, the request's own default holds (one place)."""
    on = ScriptRequest.model_fields["bible"].default
    p.add_argument(
        "--bible",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one story bible call before any scene fixes the cast, their looks, the setting "
        "and the key objects, and every scene prompt quotes it; an outline run's outline is "
        f"its bible (default: {'--bible' if on else '--no-bible'})",
    )


def bible_choice(args: argparse.Namespace) -> dict[str, bool]:
    """The request field ``--bible/--no-bible`` sets, if either was given."""
    return {} if args.bible is None else {"bible": args.bible}


def add_hedge_flags(p: argparse.ArgumentParser) -> None:
    tail = p.add_argument_group("hung calls (hedging: a backup for a call far slower than usual)")
    tail.add_argument(
        "--hedge-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="start a backup after this long (default: ~2.8x the typical call, learned)",
    )
    tail.add_argument("--no-hedge", action="store_true", help="never send a backup call")
    tail.add_argument(
        "--hedge-budget",
        type=float,
        default=0.05,
        help="backups as a share of all calls, at most",
    )


def add_repair_flags(p: argparse.ArgumentParser) -> None:
    """``--repair/--no-repair`` and ``--repair-budget``; not given, the request's defaults."""
    on = ScriptRequest.model_fields["repair"].default
    share = ScriptRequest.model_fields["repair_budget"].default
    g = p.add_argument_group("repair (write the scenes the continuity check flags again)")
    g.add_argument(
        "--repair",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="once every scene is written, check the script and write each flagged scene "
        "again, told its neighbours and what was wrong; it is kept only when the script "
        f"then has fewer findings (default: {'--repair' if on else '--no-repair'})",
    )
    g.add_argument(
        "--repair-budget",
        default=None,
        metavar="SHARE",
        help=f"extra calls as a share of the scenes, above 0 and at most 1; at least one "
        f"call (default: {share:g})",
    )


def repair_choice(args: argparse.Namespace) -> dict[str, bool | float]:
    """The request fields ``--repair/--no-repair`` and ``--repair-budget`` set, if given."""
    chosen: dict[str, bool | float] = {} if args.repair is None else {"repair": args.repair}
    if args.repair_budget is None:
        return chosen
    bad = Usage(
        "--repair-budget takes a share of the scenes above 0 and at most 1, e.g. 0.1 "
        f"(got {args.repair_budget!r})"
    )
    try:
        share = float(args.repair_budget)
    except ValueError:
        raise bad from None
    if not 0 < share <= 1:  # NaN fails this too
        raise bad
    if not chosen.get("repair", ScriptRequest.model_fields["repair"].default):
        raise Usage("--repair-budget applies only with --repair")
    return {**chosen, "repair_budget": share}
