"""serve-sim: an OpenAI-compatible server on 127.0.0.1 backed by the simulated LLM.

It lets users try the real HTTP path, their keys and rate-limit settings without
spending money, and lets the tests drive the real openai SDK over real HTTP. Latencies
and faults are drawn from (seed, call, attempt) as in-process, so results compare; a
backup request (header ``X-Storygen-Hedge: 1``) draws its own, as in-process.

With a ``capacity`` it serves at most C requests at once, like a local llama.cpp or vLLM
with C slots: the others queue first come, first served, and their latency grows with the
queue. A client that closes its connection before the answer (a cancelled call) is
noticed: the work stops and the request is counted as cancelled.

A body with ``"stream": true`` is answered with server-sent events as OpenAI sends them,
paced by the call's work (time to first token, then the text at an even rate), with
faults that strike mid-stream. A compute-bound server shares one compute among its
slots; with an rpm every chat answer carries OpenAI's x-ratelimit-* headers.

It also serves the Batch API, whose lines are answered by the same code as a live chat
request (``answer_chat``). Importing this package loads FastAPI and uvicorn: only
serve-sim's own callers (the CLI's serve-sim command, tests, benchmarks) do.

Modules, top down: app (the app, a background server, ``serve``) > chat_routes,
batch_routes (the HTTP routes) > stream (a streamed answer), rate_headers, batch_store,
batch_input (the Batch API's files, batches and input check) > service (slots, pace,
a client that leaves) > pace, compute (wall-clock or shared work) > chat (one chat call
answered) > faults (scripted or drawn) > auth, state, errors > config.
"""

from storygen.sim.app import RunningServer, create_app, serve
from storygen.sim.chat import answer_chat
from storygen.sim.config import STRUCTURED_MODES, SimServerConfig, Structured
from storygen.sim.state import SimRequest, SimServerState

__all__ = [
    "STRUCTURED_MODES",
    "RunningServer",
    "SimRequest",
    "SimServerConfig",
    "SimServerState",
    "Structured",
    "answer_chat",
    "create_app",
    "serve",
]
