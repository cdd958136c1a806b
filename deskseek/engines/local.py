"""The inference engine: one model loaded once, replies streamed as events, cancellable at any moment.

Why not llama-cpp-python's `Llama.create_chat_completion`? It re-detokenizes the whole completion at
every step (quadratic over R1's thousands of thinking tokens), allocates an n_batch x n_vocab score
matrix (300 MB for a 152k vocabulary), and its quiet mode (verbose off) redirects the process's stdout and
stderr. So we drive llama.cpp's C API directly through llama-cpp-python's ctypes bindings: the sampler
chain is llama.cpp's own, detokenization is incremental (one piece per token through an incremental
UTF-8 decoder), the KV cache keeps the common prefix between turns, and the log goes to our file.

Generation runs on its own thread and talks through a queue: the CLI iterates it on the main thread,
the TUI from a worker, and `cancel()` is honoured between tokens and, through llama.cpp's abort
callback, in the middle of prompt processing.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from deskseek.engines import chat_template, draft_costs, drafts, exchanges, think_lang
from deskseek.engines.events import Settings
from deskseek.engines.generation import Generation
from deskseek.engines.token_context import TokenContext
from deskseek.engines.worker_loss import WorkerWatch
from deskseek.errors import DeskseekError, UsageError
from deskseek.llama import cores, cpu, native_log, rpc, threadpool
from deskseek.llama.binding import set_fields
from deskseek.llama.overrides import CpuOverrides
from deskseek.models import gguf
from deskseek.placement import kv_cache

log = logging.getLogger("deskseek.engine")


class LoadError(DeskseekError):
    """The model could not be loaded: not a GGUF, damaged, unsupported, or too big for memory."""


class LoadCancelled(LoadError):
    """The caller's progress callback asked to stop (it returned False)."""


def default_threads() -> int:
    """llama.cpp decodes fastest with one thread per physical core (llama/cores.py reads the topology)."""
    return cores.default_threads()


# --- the engine -----------------------------------------------------------------------------------------


class Engine(TokenContext):
    """One loaded model. Not thread-safe for concurrent generations: one Generation at a time.
    It is an engines.protocol.Engine, as the remote one is: the faces drive it through that alone."""

    server = None  # the model runs in this process, on this machine

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = -1,
        n_batch: int = 512,
        reasoning: bool | None = None,
        allow_system: bool = True,
        cpu_patterns: list[str] | None = None,
        on_progress: Callable[[float], bool | None] | None = None,
        cache_type_k: str = kv_cache.DEFAULT,
        cache_type_v: str = kv_cache.DEFAULT,
        flash_attn: str = "auto",
        draft: str | Path | None = None,
        draft_gpu_layers: int = -1,
    ):
        """`draft`: a smaller model of the same vocabulary that drafts tokens for this one (speculative.py),
        placed with `draft_gpu_layers`; where it cannot draft, `draft_problem` says why (one line)."""
        import llama_cpp

        if problem := kv_cache.conflict(cache_type_v, flash_attn):
            raise UsageError(problem)
        self._llama = llama_cpp
        native_log.install()
        self.workers = WorkerWatch()  # --rpc: a worker lost mid-reply ends the reply, not the process
        self.path = Path(path)
        header = gguf.read(self.path)  # a clear message for non-GGUF and truncated headers
        self.architecture = header.architecture
        llama_cpp.llama_backend_init()
        self.cpu_patterns = list(cpu_patterns or [])
        self._model = self._load(n_gpu_layers, on_progress)
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        threads = n_threads or default_threads()
        mark = native_log.mark()
        cparams = llama_cpp.llama_context_default_params()
        set_fields(cparams, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=min(n_batch, 512), n_threads=threads,
                   n_threads_batch=threads, no_perf=True, type_k=kv_cache.ggml_type(cache_type_k),
                   type_v=kv_cache.ggml_type(cache_type_v), flash_attn_type=kv_cache.flash_attn_type(flash_attn, cache_type_v))
        self._ctx = llama_cpp.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            reason = native_log.first_error(mark) or "llama.cpp could not allocate it"
            if kv_cache.quantized(cache_type_k) or kv_cache.quantized(cache_type_v):
                raise LoadError(f"llama.cpp could not make a {cache_type_k}/{cache_type_v} KV cache for this model "
                                f"({reason}); try -ctk f16 -ctv f16")
            raise LoadError(f"not enough memory for a {n_ctx}-token context ({reason}); try a smaller --ctx")
        self._pool = threadpool.attach(self._ctx, threads)
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self.n_batch = llama_cpp.llama_n_batch(self._ctx)
        self.threads = threads
        self._cancel = threading.Event()
        # llama.cpp calls the abort callback between the nodes of every graph it computes: a thousand
        # Python calls, each taking the GIL, per token. It is installed only while a prompt is processed
        # (where a batch can take seconds and must stay cancellable); between generated tokens the
        # cancel flag is checked directly, which costs nothing.
        self._abort_cb = llama_cpp.ggml_abort_callback(lambda _data: self._should_abort())
        self._no_abort_cb = ctypes.cast(None, llama_cpp.ggml_abort_callback)
        self.aborted_decodes = 0  # prompt batches cut short by cancel(); logged, and read by tests
        self._cached: list[int] = []  # tokens whose keys and values sit in the KV cache, in order
        self._busy = threading.Lock()
        # One long-lived thread runs every generation of this engine. llama.cpp's CPU backend keeps its
        # worker threads (OpenMP's team, where built with it) tied to the thread that computes; a new
        # thread per reply would build a new team each time, and teams left behind by other threads
        # make the spinning ones yield (libgomp throttles when threads outnumber cores): measured at
        # 0.6x speed on 2 cores.
        self._jobs: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._serve, name="deskseek-engine", daemon=True)
        self._worker.start()
        self._piece_buf = ctypes.create_string_buffer(256)
        self._scripts: think_lang.VocabScripts | None = None  # built on the first reply the thought guard watches
        self._one = (llama_cpp.llama_token * 1)()
        self.template = self._meta("tokenizer.chat_template")
        self.bos = self._token_text(llama_cpp.llama_vocab_bos(self._vocab))
        self.eos = self._token_text(llama_cpp.llama_vocab_eos(self._vocab))
        self.reasoning = (
            reasoning if reasoning is not None else gguf.is_reasoning_template(self.template or "")
        )
        self.allow_system = allow_system
        self.cache_types = (cache_type_k, cache_type_v)
        self.speculation_costs = draft_costs.Costs()  # timings and acceptance, kept across replies
        self._verify_batch = None  # speculative.VerifyBatch, made on the first draft
        self.draft: drafts.DraftModel | None = None
        self.draft_problem: str | None = None  # said once, as a notice of the next reply
        if draft is not None:
            try:
                self.draft, self.draft_problem = drafts.attach(self, draft, gpu_layers=draft_gpu_layers,
                                                               engine_class=Engine)
            except BaseException:  # Ctrl+C while the draft model loads: nothing of this engine is left behind
                self.close()
                raise
        log.info("loaded %s (%s, ctx %d, %d threads, KV cache %s/%s, flash attention %s)", self.path,
                 self.architecture, self.n_ctx, threads, cache_type_k, cache_type_v, flash_attn)

    # -- loading helpers --

    def _load(self, n_gpu_layers: int, on_progress: Callable[[float], None] | None):
        """The model, placed as asked; LoadError with llama.cpp's own reason, KeyboardInterrupt if Ctrl+C'd."""
        llama_cpp = self._llama
        amx = cpu.prepare()  # before the first load: where AMX crashes, it is taken out of play
        mark = native_log.mark()
        params = llama_cpp.llama_model_default_params()
        set_fields(params, n_gpu_layers=n_gpu_layers)
        if amx.plain_buffers:
            set_fields(params, use_extra_bufts=False)
        self._devices = rpc.devices_for_next_model()  # None unless a worker went away: then all but its devices
        if self._devices is not None:
            set_fields(params, devices=ctypes.cast(self._devices, ctypes.c_void_p))
        # The model keeps its params, pointers included, for its whole life: so do we with what they point to.
        self._overrides = CpuOverrides(self.cpu_patterns) if self.cpu_patterns else None
        if self._overrides is not None:
            self._overrides.apply(params)
        interrupted = threading.Event()

        stopped = threading.Event()

        def progress(fraction: float, _data) -> bool:  # on this thread, between tensors; False stops the load
            if on_progress is not None and not interrupted.is_set() and on_progress(fraction) is False:
                stopped.set()  # the caller no longer wants this model (another was picked, the app quits)
            return not (interrupted.is_set() or stopped.is_set())

        self._progress = llama_cpp.llama_progress_callback(progress)
        set_fields(params, progress_callback=self._progress)
        # A 40 GB load takes minutes: Ctrl+C must stop it. A KeyboardInterrupt raised inside a ctypes
        # callback (ours, or the log's) is printed and swallowed by ctypes, so on the main thread SIGINT
        # only sets a flag while llama.cpp loads, the progress callback then asks it to stop, and the
        # interrupt is raised here once the C call has returned.
        with _sigint_sets(interrupted):
            try:
                model = llama_cpp.llama_model_load_from_file(str(self.path).encode(), params)
            except (RuntimeError, OSError, ValueError) as err:  # llama-cpp-python's wrappers raise these
                log.exception("loading %s failed", self.path)
                raise LoadError(f"cannot load {self.path.name}: {err}") from None
        if interrupted.is_set() or stopped.is_set():
            if model:
                llama_cpp.llama_model_free(model)
            if interrupted.is_set():
                raise KeyboardInterrupt
            raise LoadCancelled(f"loading {self.path.name} was stopped")
        if not model:
            raise LoadError(self._explain_load_failure(mark))
        return model

    def _explain_load_failure(self, mark: int) -> str:
        lines = native_log.lines_since(mark)
        for line in lines:
            if "unknown model architecture" in line:
                arch = line.split("unknown model architecture")[-1].strip(" :'\"")
                return f"{self.path.name}: architecture {arch!r} is not supported by this llama.cpp build"
        reason = native_log.first_error(mark) or "llama.cpp refused it"
        return f"cannot load {self.path.name}: {reason}"

    def _meta(self, key: str) -> str | None:
        size = self._llama.llama_model_meta_val_str(self._model, key.encode(), None, 0)
        if size < 0:
            return None
        buf = ctypes.create_string_buffer(size + 1)
        self._llama.llama_model_meta_val_str(self._model, key.encode(), buf, size + 1)
        return buf.value.decode("utf-8", errors="replace")

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llama.llama_vocab_get_text(self._vocab, token).decode("utf-8", errors="replace")

    def _serve(self) -> None:
        while (generation := self._jobs.get()) is not None:
            self.workers.current = generation
            generation._run()
            self.workers.current = None

    def close(self) -> None:
        """Free the model; a reply still in flight is cancelled and waited for first (it uses the context)."""
        busy = getattr(self, "_busy", None)
        if getattr(self, "workers", None) is not None:
            self.workers.close()
            if self.workers.lost:  # its thread is blocked in llama.cpp for good: nothing here can be freed
                return
        if busy is not None:
            self._cancel.set()
            busy.acquire()
            self._jobs.put(None)
            self._worker.join()
        try:
            self._free()
        finally:
            if busy is not None:
                busy.release()

    def _free(self) -> None:
        if getattr(self, "draft", None) is not None:
            self.draft.close()
            self.draft = None
        if getattr(self, "_verify_batch", None) is not None:
            self._verify_batch.close()
            self._verify_batch = None
        if getattr(self, "_scripts", None) is not None:
            self._scripts.close()
            self._scripts = None
        if getattr(self, "_ctx", None):
            if self._pool is not None:
                threadpool.detach(self._ctx)
            self._llama.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_pool", None) is not None:
            self._pool.free()
            self._pool = None
        if getattr(self, "_model", None):
            self._llama.llama_model_free(self._model)
            self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- text <-> tokens --

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]:
        """Tokenize a rendered prompt: special tokens parsed, BOS added only if the template left it out."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (self._llama.llama_token * capacity)()
        count = self._llama.llama_tokenize(self._vocab, data, len(data), buf, capacity, False, True)
        if count < 0:
            raise DeskseekError("prompt could not be tokenized")
        tokens = list(buf[:count])
        bos = self._llama.llama_vocab_bos(self._vocab)
        wants_bos = add_bos and self._llama.llama_vocab_get_add_bos(self._vocab)
        if wants_bos and bos >= 0 and (not tokens or tokens[0] != bos):
            tokens.insert(0, bos)
        return tokens

    def _piece(self, token: int) -> bytes:
        count = self._llama.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, True)
        if count < 0:  # a piece longer than the buffer: grow once for this token
            big = ctypes.create_string_buffer(-count)
            count = self._llama.llama_token_to_piece(self._vocab, token, big, -count, 0, True)
            return big.raw[:count]
        return self._piece_buf.raw[:count]

    def script_index(self) -> think_lang.VocabScripts:
        """Every token's scripts, judged once for this model (the thought guard's; think_lang.py)."""
        if self._scripts is None:
            self._scripts = think_lang.VocabScripts(self._llama, self._vocab)
        return self._scripts

    # -- generation --

    def render(self, messages: list[dict]) -> chat_template.Rendered:
        """The prompt, rendered where cancel() and a deadline reach it (templates come from downloaded files)."""
        return chat_template.render(
            self.template, messages, bos_token=self.bos, eos_token=self.eos,
            reasoning=self.reasoning, allow_system=self.allow_system, should_stop=self._cancel.is_set,
        )

    def generate(self, messages: list[dict], settings: Settings | None = None) -> Generation:
        """Start a reply on a background thread; iterate the result for events, cancel() to stop."""
        self.workers.check()
        if not self._busy.acquire(blocking=False):
            raise DeskseekError("a reply is already being generated; cancel it first")
        if not self._ctx:
            self._busy.release()
            raise DeskseekError("the model has been closed")
        generation = Generation(self, messages, settings or Settings())
        generation.start()  # the engine's thread releases _busy when the generation ends
        return generation

    def _fit(self, messages: list[dict], reserve: int) -> tuple[chat_template.Rendered, list[int], int]:
        """Render, dropping whole exchanges, oldest first (see exchanges.py), until it fits; how many went."""
        dropped = 0
        while True:
            rendered = self.render(messages)
            tokens = self.tokenize(rendered.prompt)
            if len(tokens) + reserve <= self.n_ctx:
                return rendered, tokens, dropped
            fewer = exchanges.without_oldest_exchange(messages)
            if fewer is None:
                if len(tokens) < self.n_ctx:
                    return rendered, tokens, dropped  # it fits, with less room to answer than wished
                raise DeskseekError(
                    f"the prompt is {len(tokens)} tokens, more than this context holds ({self.n_ctx}); "
                    "shorten it or use a larger --ctx"
                )
            messages = fewer
            dropped += 1


@contextlib.contextmanager
def _sigint_sets(flag: threading.Event):
    """While inside, Ctrl+C sets `flag` instead of raising (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: flag.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
