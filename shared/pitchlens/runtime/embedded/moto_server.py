"""moto's S3 + SQS server, with every change written to disk before its response leaves.

moto's WSGI app runs behind `_WriteThrough`: while a request runs, hooks on moto's S3 and SQS
backends note what it changes (buckets and their configuration, objects, multipart uploads and
parts, queues, messages: receives too, for their receive counts and visibility); once moto has
built the response, and before werkzeug sends its status line, `MotoStore.persist` makes those
changes durable. A client that saw a 2xx finds its write after a crash (kill -9 included); when
persisting fails the client gets a 503, which the AWS SDKs retry. Reads change nothing and cost
nothing extra. A change made in this process outside a request (the backends called directly) is
persisted when the call returns.

moto's state is global to the process, so one server at a time may write through; its hooks are
installed once and do nothing while none runs. Large objects are completed and read without whole
copies of them in memory (moto_large_objects.py).
"""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pitchlens.infrastructure.logging import get_logger
from pitchlens.runtime.embedded.moto_store import Changes, MotoStore

log = get_logger("pitchlens.runtime")

LARGE_BODY_BYTES = 1 << 20
"""A request body from this size (an upload's part) is freed as soon as its request is handled."""

Call = Callable[[], Any]
Note = Callable[[Changes, Any, dict[str, Any], Call], Any]


class _RequestState(threading.local):
    changes: Changes | None = None
    suspended: bool = False


_request = _RequestState()
_active: MotoStore | None = None
_installed = False


class DurableMotoServer:
    """moto's server on `host:port` whose buckets, objects and queues live in `store`."""

    def __init__(self, host: str, port: int, store: MotoStore) -> None:
        self._host = host
        self._requested_port = port
        self.store = store
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        global _active
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        if _active is not None:
            raise RuntimeError("a write-through moto server already runs in this process")
        _install_hooks()
        app = _WriteThrough(DomainDispatcherApplication(create_backend_app), self.store)
        self._server = make_server(
            self._host, self._requested_port, app, threaded=True, request_handler=MotoRequestHandler
        )
        _active = self.store
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def restore(self) -> dict[str, int]:
        """Loads the store into moto (see `MotoStore.restore`), writing nothing back."""
        with suspended():
            return self.store.restore()

    def stop(self) -> None:
        global _active
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if _active is self.store:
            _active = None


@contextmanager
def suspended() -> Iterator[None]:
    """Changes this thread makes to moto meanwhile are not persisted (used to restore)."""
    _request.suspended = True
    try:
        yield
    finally:
        _request.suspended = False


class _WriteThrough:
    """WSGI middleware: persists what a request changed before the response is sent."""

    def __init__(self, app: Any, store: MotoStore) -> None:
        self._app = app
        self._store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        changes = _request.changes = Changes()
        try:
            body = self._app(environ, start_response)  # werkzeug sends nothing before we return
        except BaseException:
            self._store.persist(changes)  # a failed request may have changed some things
            raise
        finally:
            _request.changes = None
            if int(environ.get("CONTENT_LENGTH") or 0) >= LARGE_BODY_BYTES:
                # moto's request object ends in a reference cycle holding the body it read whole:
                # left to the collector's own pace, a stack took 445 MB more during an 868 MB
                # upload (16 MB parts). The youngest generations hold it, and cost under a ms.
                gc.collect(1)
        if changes:
            try:
                self._store.persist(changes)
            except Exception:
                log.exception("a change could not be written to disk; answering 503")
                if hasattr(body, "close"):
                    body.close()
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
                return [b"the change could not be written to disk; retry"]
        return body


# Hooks on moto's backends --------------------------------------------------------------------
def _install_hooks() -> None:
    global _installed
    if _installed:
        return
    from moto.s3.models import S3Backend
    from moto.sqs.models import SQSBackend

    from pitchlens.runtime.embedded import moto_large_objects

    moto_large_objects.install()
    for cls, hooks in ((S3Backend, _S3_HOOKS), (SQSBackend, _SQS_HOOKS)):
        for name, note in hooks.items():
            setattr(cls, name, _hooked(getattr(cls, name), note))
    _installed = True


def _hooked(original: Callable[..., Any], note: Note) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def hooked(backend: Any, *args: Any, **kwargs: Any) -> Any:
        store = _active
        if store is None or _request.suspended:
            return original(backend, *args, **kwargs)
        arguments = signature.bind(backend, *args, **kwargs).arguments
        outside_request = _request.changes is None
        if outside_request:
            _request.changes = Changes()
        changes = _request.changes
        assert changes is not None
        try:
            return note(changes, backend, arguments, lambda: original(backend, *args, **kwargs))
        finally:
            if outside_request:
                _request.changes = None
                store.persist(changes)

    return hooked


def _bucket(argument: str) -> Note:
    def note(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
        changes.buckets.add((backend, args[argument]))
        return call()

    return note


def _bucket_config(config: str, argument: str | None) -> Note:
    def note(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
        result = call()
        assert _active is not None
        _active.remember_bucket_config(
            backend, args["bucket_name"], config, args[argument] if argument else None
        )
        changes.buckets.add((backend, args["bucket_name"]))
        return result

    return note


def _object(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    changes.objects.add((backend, args["bucket_name"], args["key_name"]))
    return call()


def _tagged_key(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    key = args["key"]
    changes.objects.add((backend, key.bucket_name, key.name))
    return call()


def _new_upload(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    multipart = call()
    changes.uploads.add((backend, args["bucket_name"], multipart.id))
    return multipart


def _upload(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    from moto.s3.exceptions import NoSuchUpload

    bucket = backend.buckets.get(args["bucket_name"])
    if bucket is not None and args["multipart_id"] not in bucket.multiparts:
        raise NoSuchUpload(args["multipart_id"])  # moto 5.2 itself fails with a KeyError (a 500)
    changes.uploads.add((backend, args["bucket_name"], args["multipart_id"]))
    return call()


def _part(bucket_argument: str) -> Note:
    def note(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
        changes.parts.add((backend, args[bucket_argument], args["multipart_id"], int(args["part_id"])))
        return call()

    return note


def _queue(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    changes.queues.add((backend, args.get("queue_name") or args["name"]))
    return call()


def _messages(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
    changes.messages.add((backend, args["queue_name"]))
    return call()


def _removes_messages(select: Callable[[Any, dict[str, Any]], bool], *, queue_deleted: bool = False) -> Note:
    """For calls that delete messages: those `select` picks before the call, if gone after it."""

    def note(changes: Changes, backend: Any, args: dict[str, Any], call: Call) -> Any:
        queue = backend.queues.get(args["queue_name"])
        candidates = [m for m in list(queue._messages) if select(m, args)] if queue is not None else []
        changes.messages.add((backend, args["queue_name"]))
        if queue_deleted:
            changes.queues.add((backend, args["queue_name"]))
        result = call()
        still_queued = {m.id for q in backend.queues.values() for m in list(q._messages)}
        changes.deleted_messages.update(m.id for m in candidates if m.id not in still_queued)
        return result

    return note


_S3_HOOKS: dict[str, Note] = {
    "create_bucket": _bucket("bucket_name"),
    "delete_bucket": _bucket("bucket_name"),
    "put_bucket_notification_configuration": _bucket_config("notification", "notification_config"),
    "put_bucket_cors": _bucket_config("cors", "cors_rules"),
    "delete_bucket_cors": _bucket_config("cors", None),
    "put_object": _object,  # PutObject, POST uploads, CopyObject, CompleteMultipartUpload
    "delete_object": _object,  # DeleteObject, DeleteObjects
    "put_object_tagging": _tagged_key,
    "delete_object_tagging": _object,
    "create_multipart_upload": _new_upload,
    "upload_part": _part("bucket_name"),
    "upload_part_copy": _part("dest_bucket_name"),
    "abort_multipart_upload": _upload,
    "complete_multipart_upload": _upload,
}

_SQS_HOOKS: dict[str, Note] = {
    "create_queue": _queue,
    "set_queue_attributes": _queue,
    "tag_queue": _queue,
    "untag_queue": _queue,
    "send_message": _messages,  # SendMessageBatch and S3 notifications call it
    "receive_message": _messages,
    "change_message_visibility": _messages,
    "delete_message": _removes_messages(lambda m, args: m.had_receipt_handle(args["receipt_handle"])),
    "purge_queue": _removes_messages(lambda m, args: True),
    "delete_queue": _removes_messages(lambda m, args: True, queue_deleted=True),
}
