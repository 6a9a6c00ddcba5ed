"""bb's one error hierarchy; `bb.cmd.main` maps it to messages and exit codes."""

from __future__ import annotations

import signal

# buildah's convention: 125 means bb itself failed; a command run in a
# container passes its own status through (126 cannot invoke, 127 not found).
EXIT_FAILURE = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127
# isula-build's: under `bb ctr-img`, every error exits 1 (its DefaultFailedCode)
EXIT_ISULA_BUILD_FAILURE = 1


class BBError(Exception):
    """Root of every error bb reports to a user."""

    exit_code = EXIT_FAILURE


class InvalidArgument(BBError):
    """A flag, argument or configuration value is malformed."""


class NotFound(BBError):
    """Something named by the user does not exist."""


class ContainerNotFound(NotFound):
    """No working container has this name or ID."""

    def __init__(self, name: str):
        super().__init__(f'container "{name}" not known')
        self.name = name


class ImageNotFound(NotFound):
    """No image in the store matches this name or ID."""

    def __init__(self, name: str):
        super().__init__(f'image "{name}" not known')
        self.name = name


class LayerNotFound(NotFound):
    """No layer in the store has this ID."""

    def __init__(self, layer_id: str):
        super().__init__(f'layer "{layer_id}" not known')
        self.layer_id = layer_id


class InUse(BBError):
    """The object is held by something else (a container, a process, a mount)."""


class NameInUse(InUse):
    """A container name is already taken."""


class StoreError(BBError):
    """The store cannot be opened or is inconsistent."""


class DriverError(BBError):
    """A storage driver operation failed."""


class DriverNotSupported(DriverError):
    """The selected storage driver cannot run on this machine."""


class ToolMissing(BBError):
    """An external program bb needs is not installed."""

    def __init__(self, tool: str, package: str | None = None):
        hint = f" (install {package})" if package else ""
        super().__init__(f"{tool}: command not found{hint}")
        self.tool = tool


class ToolFailed(BBError):
    """An external program exited non-zero; carries its command line and stderr."""

    def __init__(self, argv: list[str], status: int, stderr: str):
        detail = stderr.strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        super().__init__(f"{' '.join(argv)}: exit status {status}{tail}")
        self.argv = argv
        self.status = status
        self.stderr = stderr


class RunFailed(BBError):
    """A command run inside a container exited non-zero; its status is passed through."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.exit_code = status


class CommandNotFound(RunFailed):
    """The command to run does not exist in the container."""

    def __init__(self, command: str):
        super().__init__(f'"{command}": executable file not found in $PATH', EXIT_NOT_FOUND)


class CommandNotExecutable(RunFailed):
    """The command to run exists but cannot be executed."""

    def __init__(self, command: str, why: str):
        super().__init__(f'"{command}": {why}', EXIT_CANNOT_INVOKE)


class EmulationUnavailable(BBError):
    """Programs of another architecture cannot run here (no qemu-user binfmt_misc handler)."""


class ArchiveError(BBError):
    """A layer or archive is malformed or hostile."""


class OutputError(BBError):
    """An output (archive file, OCI layout, iidfile) cannot be written where the user said."""


class SourceError(BBError):
    """A copy/add source is missing or outside its context."""


class DockerfileError(BBError):
    """A Dockerfile (or .dockerignore) is malformed; names the file and line."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


class BuildStepFailed(BBError):
    """A build step failed; carries the failing step's exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.exit_code = status


class RegistryError(BBError):
    """A registry refused a request, or cannot be reached."""


class ManifestUnknown(RegistryError):
    """A registry has no manifest under that tag or digest."""


class AuthenticationFailed(RegistryError):
    """A registry did not accept the credentials (or wanted some)."""


class Stopped(BBError):
    """Work given up because other work it went with failed (never the error shown: that is)."""


class Interrupted(BaseException):
    """bb got SIGINT or SIGTERM: unwinds like KeyboardInterrupt, exits 128 + the signal's number.

    Not a BBError, so no handler that translates or tolerates bb's errors can swallow it;
    `finally` blocks and `except BaseException` clean up as they do for an error.
    """

    def __init__(self, signal_number: int, message: str | None = None):
        super().__init__(message or f"interrupted by {signal.Signals(signal_number).name}")
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number
