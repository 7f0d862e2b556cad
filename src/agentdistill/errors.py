"""One family for the errors a user can cause and fix: bad input, a missing model, a broken file.

Each is an `AgentDistillError` whose message is one clear line saying what is wrong and what to do; the CLI prints
it without a traceback (`--debug` shows one). Each also keeps the builtin base it always had (a `ValueError` for
bad values, a `RuntimeError` for a missing piece), so code that caught those still does. Anything else that
escapes is a bug and is shown with its traceback."""

from __future__ import annotations


class AgentDistillError(Exception):
    """Base of every user-facing error of agentdistill."""


class ConfigError(AgentDistillError, ValueError):
    """A setting (option, config file field) that is invalid, or settings that contradict each other."""


class InputFileError(AgentDistillError, ValueError):
    """A file given as input is missing, unreadable or not in the expected format."""


class OutputError(AgentDistillError, OSError):
    """An output cannot be written where it was asked for."""


class OutputExistsError(OutputError, FileExistsError):
    """An output would overwrite earlier results without being asked to."""


class MissingFileError(AgentDistillError, FileNotFoundError):
    """A file or folder given as input does not exist."""


class UnknownNameError(AgentDistillError, KeyError):
    """A name (model, suite, corpus, tool) that is not one of the known ones; the message lists them."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""  # KeyError would quote the message


class SetupError(AgentDistillError, RuntimeError):
    """A step of installing or preparing something (a package, a build) failed; the message says which."""
