"""Compiled templates shared by the apps of one process (a Jinja bytecode cache in memory).

Each app has its own Jinja environment, which parses and compiles a template the first time
it renders it. A process that builds several apps (the test suite builds one or two per test)
compiled every template again for each app. This cache keeps the compiled code per process.
A template's code is found by its name, file, source checksum (an edited template compiles
again) and the environment's fingerprint: its syntax, extensions, filters, tests and
policies, everything the compiler reads, so an environment that would compile a template
differently never gets another's code. With one app per process it only stores the code.
"""

from __future__ import annotations

from hashlib import sha1
from typing import Any

from jinja2 import BytecodeCache, Environment
from jinja2.bccache import Bucket

__all__ = ["TEMPLATE_CODE", "ProcessTemplateCode"]


def _name(value: Any) -> Any:
    """A callable by its qualified name (bound methods of two apps compile alike)."""
    if callable(value):
        return getattr(value, "__module__", None), getattr(value, "__qualname__", repr(value))
    return value


def environment_fingerprint(environment: Environment) -> str:
    """What in ``environment`` shapes the code Jinja compiles a template to."""
    env = environment
    parts = (
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        _name(env.autoescape),
        _name(env.finalize),
        _name(env.code_generator_class),
        _name(env.context_class),
        tuple(sorted(env.extensions)),
        tuple(sorted(env.filters)),
        tuple(sorted(env.tests)),
        tuple(sorted((key, repr(_name(value))) for key, value in env.policies.items())),
    )
    return sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


class ProcessTemplateCode(BytecodeCache):
    """A Jinja bytecode cache in this process's memory, keyed per environment fingerprint."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        key = self.get_cache_key(name, filename) + environment_fingerprint(environment)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        self._code.clear()


#: The process's cache, given to every app's Jinja environment by ``create_app``.
TEMPLATE_CODE = ProcessTemplateCode()
