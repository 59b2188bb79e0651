"""A thin wrapper over an async collection: every command is bounded, counted and timed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

from app.store.timing import Command, describe, observing, timed

Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]
WriteOp = InsertOne[Any] | UpdateOne | UpdateMany | ReplaceOne[Any] | DeleteOne


class TimedCollection:
    """The subset of the PyMongo async collection API the services use, one command per call."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    @property
    def name(self) -> str:
        return str(self._collection.name)

    def _command(
        self,
        operation: str,
        filters: Sequence[Mapping[str, Any]] = (),
        sort: Sort | None = None,
        indexes: Sequence[Mapping[str, Any]] = (),
    ) -> Command | None:
        return describe(self.name, operation, filters, sort, indexes)

    async def find(
        self,
        filter: Filter,
        *,
        sort: Sort | None = None,
        limit: int,
        skip: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        # Every read is bounded: the embedded engine's to_list() ignores its length argument.
        async with timed("find", self._command("find", [filter], sort)):
            cursor = self._collection.find(filter, projection)
            if sort:
                cursor = cursor.sort(list(sort))
            if skip:
                cursor = cursor.skip(skip)
            cursor = cursor.limit(limit).batch_size(max(limit, 1))
            docs = list(await cursor.to_list(limit))
            # Release the cursor inside the timed block: the embedded engine's cursor holds a
            # copy of the whole collection, and freeing it is store time, not ours.
            del cursor
            return docs

    async def find_one(
        self, filter: Filter, *, projection: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        async with timed("find_one", self._command("find_one", [filter])):
            doc = await self._collection.find_one(filter, projection)
            return dict(doc) if doc is not None else None

    async def count(self, filter: Filter) -> int:
        async with timed("count", self._command("count", [filter])):
            return int(await self._collection.count_documents(filter))

    async def aggregate(self, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        async with timed("aggregate", self._pipeline_command(pipeline)):
            cursor = await self._collection.aggregate(list(pipeline))
            docs = list(await cursor.to_list(None))
            del cursor
            return docs

    def _pipeline_command(self, pipeline: Sequence[Mapping[str, Any]]) -> Command | None:
        """A pipeline's query is its leading `$match` (and a `$sort` right after it)."""
        stages = list(pipeline)
        match = stages[0].get("$match") if stages else None
        if match is None:
            return self._command("aggregate")
        sort = stages[1].get("$sort") if len(stages) > 1 else None
        return self._command("aggregate", [match], list(sort.items()) if sort else None)

    def _bulk_command(self, ops: Sequence[WriteOp]) -> Command | None:
        if not observing():
            return None
        # The operations' filters are pymongo-private attributes, read only for observers.
        filters = [f for op in ops if (f := getattr(op, "_filter", None)) is not None]
        return self._command("bulk_write", filters)

    async def insert_one(self, doc: Mapping[str, Any]) -> None:
        async with timed("insert"):
            await self._collection.insert_one(dict(doc))

    async def insert_many(self, docs: Sequence[Mapping[str, Any]]) -> None:
        if not docs:
            return
        async with timed("insert"):
            await self._collection.insert_many([dict(d) for d in docs], ordered=True)

    async def update_one(
        self, filter: Filter, update: Mapping[str, Any], *, upsert: bool = False
    ) -> int:
        async with timed("update", self._command("update_one", [filter])):
            result = await self._collection.update_one(filter, update, upsert=upsert)
            return int(result.matched_count) + (1 if result.upserted_id is not None else 0)

    async def update_many(self, filter: Filter, update: Mapping[str, Any]) -> int:
        async with timed("update", self._command("update_many", [filter])):
            result = await self._collection.update_many(filter, update)
            return int(result.modified_count)

    async def find_one_and_update(
        self,
        filter: Filter,
        update: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        sort: Sort | None = None,
        upsert: bool = False,
        return_after: bool = True,
    ) -> dict[str, Any] | None:
        async with timed("find_and_modify", self._command("find_one_and_update", [filter], sort)):
            doc = await self._collection.find_one_and_update(
                filter,
                update,
                sort=list(sort) if sort else None,
                upsert=upsert,
                return_document=ReturnDocument.AFTER if return_after else ReturnDocument.BEFORE,
            )
            return dict(doc) if doc is not None else None

    async def delete_many(self, filter: Filter) -> int:
        async with timed("delete", self._command("delete_many", [filter])):
            result = await self._collection.delete_many(filter)
            return int(result.deleted_count)

    async def bulk_write(self, ops: Sequence[WriteOp], *, ordered: bool = False) -> dict[str, int]:
        if not ops:
            return {"matched": 0, "modified": 0, "upserted": 0, "inserted": 0}
        async with timed("bulk_write", self._bulk_command(ops)):
            result = await self._collection.bulk_write(list(ops), ordered=ordered)
            return {
                "matched": int(result.matched_count),
                "modified": int(result.modified_count),
                "upserted": int(result.upserted_count),
                "inserted": int(result.inserted_count),
            }

    async def create_indexes(self, indexes: Sequence[Any]) -> None:
        described = [index.document for index in indexes]
        async with timed("create_indexes", self._command("create_indexes", indexes=described)):
            await self._collection.create_indexes(list(indexes))
