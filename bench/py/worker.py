"""The Python reference's side of the cross-implementation benchmark: a worker
serving BenchmarkService (the contract of the Go port's benchmark fixture, plus
`generate_batches`, ours, for large producer batches, and `echo`, for the
large-payload memory measurement) with vgi_rpc 0.52.2.

Usage: worker.py              serve on stdin/stdout
       worker.py --unix PATH  serve on a unix socket
       worker.py --tcp        serve on loopback TCP, print PORT:<n> on stdout
       worker.py --http       serve HTTP on loopback (the reference's serve_http:
                              Falcon under waitress), print PORT:<n> on stdout
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from vgi_rpc.rpc import AnnotatedBatch, CallContext, OutputCollector, RpcServer, Stream, StreamState, run_server, serve_tcp, serve_unix


class Color(Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


GENERATE_SCHEMA = pa.schema([pa.field("i", pa.int64()), pa.field("value", pa.int64())])
LARGE_SCHEMA = pa.schema([pa.field("i", pa.int64()), pa.field("value", pa.float64())])
TRANSFORM_SCHEMA = pa.schema([pa.field("value", pa.float64())])


def large_batch(rows: int) -> pa.RecordBatch:
    i = pa.array(range(rows), type=pa.int64())
    value = pc.multiply(pc.cast(i, pa.float64()), 0.5)
    return pa.RecordBatch.from_arrays([i, value], schema=LARGE_SCHEMA)


@dataclass
class Generate(StreamState):
    count: int
    current: int = 0

    def process(self, input: AnnotatedBatch, out: OutputCollector, ctx: CallContext) -> None:
        if self.current >= self.count:
            out.finish()
            return
        out.emit_pydict({"i": [self.current], "value": [self.current * 10]})
        self.current += 1


@dataclass
class GenerateBatches(StreamState):
    count: int
    rows: int
    current: int = 0

    def process(self, input: AnnotatedBatch, out: OutputCollector, ctx: CallContext) -> None:
        if self.current >= self.count:
            out.finish()
            return
        batch = _BATCHES.get(self.rows)
        if batch is None:
            batch = _BATCHES[self.rows] = large_batch(self.rows)
        out.emit(batch)
        self.current += 1


_BATCHES: dict[int, pa.RecordBatch] = {}


@dataclass
class Transform(StreamState):
    factor: float

    def process(self, input: AnnotatedBatch, out: OutputCollector, ctx: CallContext) -> None:
        out.emit_arrays([pc.multiply(input.batch.column("value"), self.factor)])


class BenchmarkService(Protocol):
    def noop(self) -> None: ...
    def add(self, a: float, b: float) -> float: ...
    def greet(self, name: str) -> str: ...
    def roundtrip_types(self, color: Color, mapping: dict[str, int], tags: frozenset[int]) -> str: ...
    def generate(self, count: int) -> Stream[StreamState]: ...
    def generate_batches(self, count: int, rows: int) -> Stream[StreamState]: ...
    def transform(self, factor: float) -> Stream[StreamState]: ...
    def echo(self, data: bytes) -> bytes: ...


class Impl:
    def noop(self) -> None:
        return None

    def add(self, a: float, b: float) -> float:
        return a + b

    def greet(self, name: str) -> str:
        return f"Hello, {name}!"

    def roundtrip_types(self, color: Color, mapping: dict[str, int], tags: frozenset[int]) -> str:
        return f"{color.name}:true:{dict(sorted(mapping.items()))}:{sorted(tags)}"

    def generate(self, count: int) -> Stream[Generate]:
        return Stream(output_schema=GENERATE_SCHEMA, state=Generate(count=count))

    def generate_batches(self, count: int, rows: int) -> Stream[GenerateBatches]:
        return Stream(output_schema=LARGE_SCHEMA, state=GenerateBatches(count=count, rows=rows))

    def transform(self, factor: float) -> Stream[Transform]:
        return Stream(output_schema=TRANSFORM_SCHEMA, state=Transform(factor=factor), input_schema=TRANSFORM_SCHEMA)

    def echo(self, data: bytes) -> bytes:
        return data


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--unix"]:
        serve_unix(RpcServer(BenchmarkService, Impl()), args[1])
    elif args[:1] == ["--tcp"]:
        serve_tcp(RpcServer(BenchmarkService, Impl()), "127.0.0.1", 0, on_bound=lambda h, p: print(f"PORT:{p}", flush=True))
    elif args[:1] == ["--http"]:
        from vgi_rpc.http import serve_http  # needs vgi-rpc[http] (falcon, waitress)

        # prints PORT:<n>; a key of our own only silences the warning about the default random per-process key
        serve_http(RpcServer(BenchmarkService, Impl()), host="127.0.0.1", port=0, token_key=os.urandom(32))
    else:
        run_server(BenchmarkService, Impl())


if __name__ == "__main__":
    main()
