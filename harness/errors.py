"""The one exception hierarchy of mailstorm.

Every error a user can cause (a malformed plan, a port in use, a missing tool) is a
`MailstormError` subclass with a message that says what is wrong and where, so the CLI can print
it as one line instead of a traceback.
"""

from __future__ import annotations


class MailstormError(Exception):
    """Base class: an error the user can act on; its message is meant to be shown as is."""


class PlanError(MailstormError):
    """A fault plan is malformed: the message names the file, the key (or line) and the problem."""


class ListenError(MailstormError):
    """The receiver could not bind one of its listening addresses (port in use, bad address)."""


class JournalError(MailstormError):
    """A journal file cannot be created or read (missing, not a mailstorm journal, unwritable)."""


class ReceiverError(MailstormError):
    """The receiver's server thread failed; re-raised in the thread that drives the receiver."""


class ToolMissingError(MailstormError):
    """An external program the command needs (smtp-sink, docker, …) is not available here."""


class DockerUnavailableError(MailstormError):
    """No Docker engine answers: the message says where we looked and what to start.

    Container tests and commands need an engine; `./mailstorm` starts one on a Debian machine
    where it runs as root, elsewhere the user starts one or points DOCKER_HOST at one.
    """


class ImageBuildError(MailstormError):
    """An image (the Debian base or a target's) could not be built; the tail of its log is attached
    to the message, so the failing step is visible without digging in the engine's logs."""


class UnknownTargetError(MailstormError):
    """A target name has no folder under `harness/targets/`; the message lists the known ones."""


class BenchError(MailstormError):
    """A benchmark could not measure: a program failed, or a server lost what it acknowledged."""


class TargetMetadataError(MailstormError):
    """A target's `target.toml` is missing or malformed: the message names the file and the key."""


class MatrixFormatError(MailstormError):
    """A `matrix.json` or a baseline file cannot be read: not JSON, or a field is missing or of the
    wrong type. The message names the file and the field's path (`cases[3].attempts[0].t`), so a
    hand-edited baseline can be fixed without reading the reader's code."""


class SchemaVersionError(MatrixFormatError):
    """A `matrix.json` or baseline was written with a `schema_version` this mailstorm does not know.

    Fields change meaning between versions, so guessing would compare apples with pears: the
    message says which versions are understood (regenerate the file, or use the matching mailstorm).
    """


class ReportWriteError(MailstormError):
    """A report file (matrix.json, matrix.md, matrix.html, junit.xml, a baseline) cannot be
    written: the message names the path and the operating system's reason."""


class HerdError(MailstormError):
    """The herd model cannot run on its input: a sender-class file or `schedule.json` is
    malformed, a mix names an unknown class, or a rate, capacity or duration is out of range.
    The message names the file (or option) and the field."""


class ZoneError(MailstormError):
    """A test zone (a zone file or a scenario's `[zone]`) cannot be served: the message names
    the file, the key and, for a record, its line."""


class DnsServerError(MailstormError):
    """The harness DNS server cannot run: its address is taken or not on this machine."""
