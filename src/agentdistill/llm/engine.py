"""llama.cpp's `llama-server` as a managed local engine for the embedded GGUF models (and vLLM's server, the
same way, on GPU machines).

- `build()` compiles `llama-server` once from the `llama-cpp-python` PyPI source distribution (its vendored
  llama.cpp; cmake, native CPU flags, a static binary) into `cache_dir()/engine/`; later calls reuse it.
- `EngineServer(gguf).acquire()` starts a server for one model on 127.0.0.1 (a free port, parallel slots,
  continuous batching, prompt cache), or joins the one already running: one server per model and settings
  is shared by every process, through a lock file and a state file beside it. `release()` stops it when its
  last user leaves; a watchdog (`llm.engine_watchdog`) stops it when its users died without releasing.
  Its log lands in `cache_dir()/engine/logs/`.

The chat model on top is `llm.engine_backend.EngineChatModel` (spec `engine:NAME`).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from agentdistill.errors import AgentDistillError
from agentdistill.llm.precision import cpu_info
from agentdistill.paths import cache_dir

SDIST = "llama-cpp-python==0.3.36"  # its vendor/llama.cpp is the engine's source
_CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_CCACHE=OFF",
]
# ggml's AMX kernels crash the first forward pass with a general protection fault on virtualised AMX hosts
# (seen on a 2-core Xeon VM with amx_int8: llama.cpp #20824, ollama #17249); GGML_NATIVE's -march=native turns
# them on wherever the CPU has AMX, so the build turns them off again (explicit -mno-* flags beat -march).
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def cmake_flags(cpu_flags: frozenset[str]) -> list[str]:
    """The cmake configure flags for a CPU with `cpu_flags`: native instructions, less AMX where it has AMX."""
    if not any(flag.startswith("amx") for flag in cpu_flags):
        return list(_CMAKE_FLAGS)
    return [*_CMAKE_FLAGS, f"-DCMAKE_C_FLAGS={_NO_AMX}", f"-DCMAKE_CXX_FLAGS={_NO_AMX}"]


class EngineError(AgentDistillError, RuntimeError):
    pass


def engine_dir() -> Path:
    """Per source version and CPU: the build uses this CPU's instructions (GGML_NATIVE), so a cache shared with
    another kind of CPU (a network home folder) builds its own binary instead of dying on an illegal instruction;
    the flags are in the key too, so a binary built with other flags (an AMX one) is rebuilt, not reused."""
    flags = cpu_info()[1]
    recipe = " ".join([*sorted(flags), *cmake_flags(flags)])
    cpu = hashlib.sha256(recipe.encode()).hexdigest()[:8]
    return cache_dir() / "engine" / f"{SDIST.replace('==', '-')}-cpu{cpu}"


def server_binary() -> Path:
    return engine_dir() / "llama-server"


def is_built() -> bool:
    return server_binary().is_file()


def build(progress: Callable[[int, str], None] | None = None) -> Path:
    """Compile `llama-server` from the PyPI source distribution (once; ~9 min on 2 cores), and keep the sources'
    HF-to-GGUF converter beside it. `progress(percent, line)` follows the compiler."""
    if is_built():
        return server_binary()
    if shutil.which("cmake") is None:
        raise EngineError("building the engine needs cmake and a C++ compiler (apt-get install cmake g++)")
    engine_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=engine_dir().parent, prefix=".build-") as tmp:
        work = Path(tmp)
        source = _fetch_source(work)
        _install_converter(source)
        configure = ["cmake", "-S", str(source), "-B", str(work / "build"), *cmake_flags(cpu_info()[1])]
        _run(configure, "configuring llama.cpp")
        command = ["cmake", "--build", str(work / "build"), "--target", "llama-server", "-j", str(os.cpu_count() or 1)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        for line in process.stdout or []:
            tail = ([*tail, line])[-40:]
            match = re.match(r"\[\s*(\d+)%\]", line)
            if progress and match:
                progress(int(match.group(1)), line.strip())
        if process.wait() != 0:
            raise EngineError("building llama-server failed:\n" + "".join(tail))
        built = work / "build" / "bin" / "llama-server"
        staged = engine_dir() / ".llama-server.tmp"
        shutil.copy2(built, staged)
        staged.rename(server_binary())  # atomic: a half-copied binary is never used
    return server_binary()


def converter_dir() -> Path:
    """llama.cpp's `convert_hf_to_gguf.py` with its `conversion/` and `gguf-py/` packages (pure Python: one per
    source version, whatever the CPU)."""
    return cache_dir() / "engine" / f"{SDIST.replace('==', '-')}-convert"


def ensure_converter() -> Path:
    """The converter script, fetched from the same PyPI sdist the first time it is needed (seconds)."""
    script = converter_dir() / "convert_hf_to_gguf.py"
    if not script.is_file():
        converter_dir().parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=converter_dir().parent, prefix=".convert-") as tmp:
            _install_converter(_fetch_source(Path(tmp)))
    return script


def _fetch_source(work: Path) -> Path:
    """Download and unpack the sdist into `work`; returns its `vendor/llama.cpp`."""
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            SDIST,
            "-d",
            str(work),
        ],
        "downloading the llama.cpp sources from PyPI",
    )
    archive = next(work.glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    return next(work.glob("*/vendor/llama.cpp"))


def _install_converter(source: Path) -> None:
    if (converter_dir() / "convert_hf_to_gguf.py").is_file():
        return
    staged = converter_dir().with_name(converter_dir().name + ".tmp")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    shutil.copy2(source / "convert_hf_to_gguf.py", staged)
    for package in ("conversion", "gguf-py"):
        shutil.copytree(source / package, staged / package)
    staged.rename(converter_dir())  # atomic: a half-copied converter is never used


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise EngineError(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")


DEFAULT_SLOTS = 8  # parallel sequences per server: what `--concurrency 8` and SAG x8 need at once
ENGINES = ("llama.cpp", "vllm")


class EngineServer:
    """One inference server for one model and settings, shared across processes (see the module docstring).

    `engine="llama.cpp"` (default) serves a GGUF file with the built `llama-server`; `engine="vllm"` serves a
    transformers model folder with vLLM's OpenAI server where vLLM is installed (GPUs: the production teacher;
    `extra_args` such as `--tensor-parallel-size 4` pass through). Both answer the same health check and the
    same OpenAI API, so the same backend code talks to either."""

    def __init__(
        self,
        model: str | Path,
        parallel: int = DEFAULT_SLOTS,
        context: int = 8192,
        threads: int | None = None,
        start_timeout_s: float | None = None,
        engine: str = "llama.cpp",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if engine not in ENGINES:
            raise EngineError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.model_path, self.engine, self.extra_args = Path(model), engine, tuple(extra_args)
        self.parallel, self.context = parallel, context
        self.threads = threads or os.cpu_count() or 1
        # vLLM compiles and profiles memory before it answers: minutes, not seconds
        self.start_timeout_s = start_timeout_s or (120.0 if engine == "llama.cpp" else 900.0)
        self.served_name = self.model_path.stem if engine == "llama.cpp" else self.model_path.name
        settings = f"{engine}|{self.model_path.resolve()}|{parallel}|{context}|{self.threads}|{' '.join(extra_args)}"
        key = hashlib.sha256(settings.encode()).hexdigest()[:16]
        run = cache_dir() / "engine" / "run"
        run.mkdir(parents=True, exist_ok=True)
        self._lock_path, self._state_path = run / f"{key}.lock", run / f"{key}.json"
        self.log_path = cache_dir() / "engine" / "logs" / f"{self.served_name}-{key}.log"
        self.port: int | None = None
        self._held = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def acquire(self) -> EngineServer:
        """Join the running server for this model, or start one; one restart if it dies while starting."""
        if self._held:
            return self
        with self._locked():
            state = self._state()
            if state and _alive(state["pid"]) and _healthy(state["port"]):
                state["users"] = [*_live(state["users"]), os.getpid()]
            else:
                state = {"pid": None, "port": None, "users": [os.getpid()]}
                state["pid"], state["port"] = self._start()
            self._write(state)
        self.port, self._held = state["port"], True
        return self

    def restart(self) -> EngineServer:
        """Start the server again if it died (its users stay); whoever comes first restarts, the others join."""
        with self._locked():
            state = self._state() or {"pid": None, "port": None, "users": [os.getpid()]}
            if not (_alive(state["pid"]) and _healthy(state["port"])):
                _stop(state["pid"])
                state["pid"], state["port"] = self._start()
                self._write(state)
        self.port, self._held = state["port"], True
        return self

    def release(self) -> None:
        """Leave the server; the last user out stops it."""
        if not self._held:
            return
        self._held = False
        with self._locked():
            state = self._state()
            if not state:
                return
            users = _live(state["users"])
            if os.getpid() in users:
                users.remove(os.getpid())  # one lease of this process (it may hold several)
            if users:
                self._write({**state, "users": users})
                return
            _stop(state["pid"])
            self._state_path.unlink(missing_ok=True)

    def status(self) -> dict | None:
        state = self._state()
        if state and _alive(state["pid"]):
            return {
                **state,
                "users": len(_live(state["users"])),
                "healthy": _healthy(state["port"]),
                "log": str(self.log_path),
            }
        return None

    def stop(self) -> bool:
        """Stop the server whoever uses it (`agentdistill engine stop`)."""
        with self._locked():
            state = self._state()
            self._state_path.unlink(missing_ok=True)
        if state and _alive(state["pid"]):
            _stop(state["pid"])
            return True
        return False

    def command(self, port: int) -> list[str]:
        """The server's command line."""
        if self.engine == "vllm":
            return [
                sys.executable,
                "-m",
                "vllm.entrypoints.openai.api_server",
                "--model",
                str(self.model_path),
                "--served-model-name",
                self.served_name,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--max-num-seqs",
                str(self.parallel),
                "--max-model-len",
                str(self.context),
                "--generation-config",  # sampling is the caller's: not the model's generation_config.json
                "vllm",
                *self.extra_args,
            ]
        return [
            str(server_binary()),
            "-m",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--parallel",
            str(self.parallel),
            "--ctx-size",
            str(self.context * self.parallel),
            "--threads",
            str(self.threads),
            "--jinja",
            "--no-webui",
            *self.extra_args,
        ]

    def _check_launchable(self) -> None:
        if self.engine == "vllm":
            if importlib.util.find_spec("vllm") is None:
                raise EngineError("vLLM is not installed here: pip install 'agentdistill[vllm]' (on a GPU machine)")
            if not (self.model_path / "config.json").is_file():
                raise EngineError(f"vLLM serves a transformers model folder; {self.model_path} is not one")
            return
        if not is_built():
            raise EngineError("the llama.cpp engine is not built; run: agentdistill engine build")
        if not self.model_path.is_file():
            raise EngineError(f"no GGUF model at {self.model_path}")

    def _start(self) -> tuple[int, int]:
        self._check_launchable()
        for attempt in (1, 2):
            port = _free_port()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                process = subprocess.Popen(
                    self.command(port),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            deadline = time.monotonic() + self.start_timeout_s
            while time.monotonic() < deadline and process.poll() is None:
                if _healthy(port):
                    self._watch(process.pid)
                    return process.pid, port
                time.sleep(0.2)
            _stop(process.pid)
            if attempt == 2:
                raise EngineError(f"{self.engine} did not start for {self.served_name} (see {self.log_path})")
        raise AssertionError("unreachable")

    def _watch(self, pid: int) -> None:
        """Start the reaper that stops this server when its users are gone without releasing it."""
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentdistill.llm.engine_watchdog",
                str(self._state_path),
                str(self._lock_path),
                str(pid),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @contextmanager
    def _locked(self):
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _state(self) -> dict | None:
        try:
            return json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return None

    def _write(self, state: dict) -> None:
        self._state_path.write_text(json.dumps(state))


def _live(users: list[int] | int) -> list[int]:
    """The leases whose process still runs: a client killed by a signal (no atexit) holds none. A count from an
    older state file cannot be checked, and is kept as unknown holders."""
    if isinstance(users, int):
        return [0] * users
    return [pid for pid in users if pid == 0 or _alive(pid)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has exited (a zombie still answers kill 0)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _healthy(port: int | None) -> bool:
    if not port:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(pid: int | None) -> None:
    if pid is None or not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not _alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
