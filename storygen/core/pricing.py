"""Estimated cost from token usage: a small, editable price table (USD per million tokens).

Prices change; the table is a starting point, and ``STORYGEN_PRICES`` (a JSON file path)
or the ``prices`` argument override it. Unknown models cost ``None``, not zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from storygen.core.errors import InvalidRequestError

# model prefix -> (input, output) USD per 1M tokens, and optionally a third column: the share
# of that price the provider's Batch API charges (BATCH_SHARE when not given)
Price = tuple[float, ...]
BATCH_SHARE = 0.5  # OpenAI's Batch API: half the live price
PRICES: dict[str, Price] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
}


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The built-in table, updated from a JSON file {"model": [input, output], ...}."""
    table = dict(PRICES)
    path = path or os.environ.get("STORYGEN_PRICES")
    if path:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            table.update({str(k): _price(v) for k, v in data.items()})
        except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise InvalidRequestError(
                f'price file {path}: expected JSON like {{"gpt-4o-mini": [0.15, 0.6]}} '
                f"(input and output USD per million tokens, optionally the Batch API's share "
                f"of that price, 0-1) ({exc})",
                "prices",
            ) from None
    return table


def _price(value: object) -> Price:
    numbers = [float(v) for v in value]  # type: ignore[attr-defined]
    if len(numbers) not in (2, 3) or not all(n >= 0 for n in numbers):
        raise ValueError("two or three numbers, none negative")
    if len(numbers) == 3 and numbers[2] > 1:
        raise ValueError(f"the Batch API share must be 0-1 (got {numbers[2]})")
    return tuple(numbers)


@lru_cache(maxsize=8)
def _load_version(path: str, mtime_ns: int, size: int) -> Mapping[str, Price]:
    # keyed on the file's version, so a summary of many rows reads the file once
    return MappingProxyType(load_prices(path))


def current_prices() -> Mapping[str, Price]:
    """The table in force: the built-in one, or as ``STORYGEN_PRICES`` updates it."""
    path = os.environ.get("STORYGEN_PRICES")
    if not path:
        return PRICES
    try:
        stat = os.stat(path)
    except OSError:
        return load_prices(path)  # raises, naming the file
    return _load_version(path, stat.st_mtime_ns, stat.st_size)


def price_of(model: str, prices: Mapping[str, Price] | None = None) -> Price | None:
    """The longest matching prefix wins, so dated model names find their family."""
    table = current_prices() if prices is None else prices
    matches = [name for name in table if model.startswith(name)]
    return table[max(matches, key=len)] if matches else None


def is_simulated(model: str) -> bool:
    """The embedded simulated LLM (and serve-sim): its tokens cost nothing, and are no price."""
    return model.startswith("storygen-sim")


def cost_line(model: str, prompt_tokens: int, completion_tokens: int, price_as: str) -> str:
    """What a run cost, or for a simulated run what the same tokens would cost on
    ``price_as``, so a demo can show the money side too."""
    cost = estimate_cost(model, prompt_tokens, completion_tokens)
    if cost is not None:
        return f"estimated cost ${cost:.4f}"
    if not is_simulated(model):
        return "estimated cost n/a (model not in the price table)"
    would = estimate_cost(price_as, prompt_tokens, completion_tokens)
    on = f"n/a ({price_as} is not in the price table)" if would is None else f"${would:.4f}"
    return f"cost n/a (simulated); on {price_as} these tokens would cost {on}"


def estimate_cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    prices: Mapping[str, Price] | None = None,
    *,
    batch: bool = False,
) -> float | None:
    """USD for these tokens; ``prices=None`` means the table in force (see ``current_prices``).
    ``batch``: sent through the provider's Batch API, at its share of the price."""
    price = price_of(model, prices)
    if price is None:
        return None
    share = (price[2] if len(price) > 2 else BATCH_SHARE) if batch else 1.0
    return share * (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000
