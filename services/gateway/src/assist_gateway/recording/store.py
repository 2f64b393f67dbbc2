"""Where recordings are kept: JetStream's object store, one bucket per retention class (`RECORDINGS_<CLASS>`, file
storage, STREAM_REPLICAS), created on first use. The bundled nats-server of `assist dev` has JetStream on: nothing
else is needed.

Thin on purpose: the names and contents of the objects are format.py's, which objects a recording has is the
database's (`recording_object`: a bucket is never listed whole).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from assist_contract.gateway import recording_bucket
from nats.js.api import ObjectMeta, ObjectMetaOptions, ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError

log = logging.getLogger(__name__)

_RETENTION_CLASS = re.compile(r"[a-z0-9_]{1,32}")
# An object is put in chunks of this size, each a JetStream publish awaiting its ack: 512 KiB rather than nats-py's
# 128 KiB takes a quarter of the round trips (and of their cost on the gateway's event loop), well below NATS's
# default max_payload (1 MiB).
CHUNK_BYTES = 512 * 1024


class RecordingObjectMissing(LookupError):
    """The object is not in its bucket (never written, deleted, or the bucket is gone)."""


def bucket_for(retention_class: str) -> str:
    """The bucket of a retention class: `standard` → `RECORDINGS_STANDARD` (the gateway's NATS user may use the
    buckets of the classes `assist_contract.gateway.RECORDING_CLASSES` names)."""
    if not _RETENTION_CLASS.fullmatch(retention_class):
        raise ValueError(f"not a retention class: {retention_class!r}")
    return recording_bucket(retention_class)


class RecordingStore:
    """Objects of recordings in JetStream: `put`, `get`, `delete` by bucket and name (`bucket_for` a class).

    `js` returns the connection's JetStream context when called (the runtime connects after the store is made).
    A bucket's handle is kept once it is known to exist and forgotten after any failure through it, so a bucket
    deleted under a running gateway is created again at its next use."""

    def __init__(self, js: Callable[[], Any], *, replicas: int = 1) -> None:
        self._js = js
        self.replicas = replicas
        self._buckets: dict[str, Any] = {}
        self._opening: dict[str, asyncio.Lock] = {}

    @classmethod
    def of_runtime(cls, runtime, *, replicas: int) -> RecordingStore:
        def js():
            if runtime.js is None:
                raise ConnectionError("NATS is not connected yet")
            return runtime.js
        return cls(js, replicas=replicas)

    bucket_for = staticmethod(bucket_for)

    async def ensure(self, bucket: str):
        """The bucket's object store, created if it does not exist (with this store's replicas, file storage)."""
        handle = self._buckets.get(bucket)
        if handle is not None:
            return handle
        async with self._opening.setdefault(bucket, asyncio.Lock()):
            handle = self._buckets.get(bucket)
            if handle is None:
                js = self._js()
                try:
                    handle = await js.object_store(bucket)
                except BucketNotFoundError:
                    config = ObjectStoreConfig(description="session recordings (assist, issue #19)",
                                               storage=StorageType.FILE, replicas=self.replicas)
                    handle = await js.create_object_store(bucket, config=config)
                    log.info("created the object store bucket %s", bucket)
                self._buckets[bucket] = handle
        return handle

    async def put(self, bucket: str, name: str, data: bytes) -> None:
        handle = await self.ensure(bucket)
        try:
            await handle.put(name, data, meta=ObjectMeta(name=name,
                                                         options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES)))
        except BaseException:
            self._buckets.pop(bucket, None)
            raise

    async def get(self, bucket: str, name: str) -> bytes:
        """The object's bytes; RecordingObjectMissing when it is not there."""
        try:
            handle = await self._existing(bucket)
            result = await handle.get(name)
        except (ObjectNotFoundError, NotFoundError) as missing:
            raise RecordingObjectMissing(f"{bucket}/{name}") from missing
        except BaseException:
            self._buckets.pop(bucket, None)
            raise
        return bytes(result.data or b"")

    async def delete(self, bucket: str, name: str) -> bool:
        """Delete the object; whether it was there (deleting what is gone is no error: erasure may run twice)."""
        try:
            handle = await self._existing(bucket)
            await handle.delete(name)
        except (ObjectNotFoundError, NotFoundError):
            return False
        except BaseException:
            self._buckets.pop(bucket, None)
            raise
        return True

    async def _existing(self, bucket: str):
        """The bucket's handle without creating it: reading or deleting in a bucket that is not there finds
        nothing (NotFoundError)."""
        handle = self._buckets.get(bucket)
        if handle is None:
            handle = self._buckets[bucket] = await self._js().object_store(bucket)  # BucketNotFoundError is one
        return handle
