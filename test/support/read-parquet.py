"""Reads Parquet objects with pyarrow for the Security Lake tests and prints, as one JSON document,
each file's Arrow schema (type strings per top-level column, plus the Parquet logical type of the
timestamp columns) and its rows as OCSF JSON: timestamps back to epoch milliseconds, maps back to
objects, absent values dropped (OCSF rejects nulls), so the rows can be validated against the OCSF
JSON Schema exactly as written."""
import datetime
import json
import sys

import pyarrow.parquet as pq

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_ocsf(value):
    if isinstance(value, datetime.datetime):
        # Exact integer milliseconds: value.timestamp() * 1000 is float arithmetic and can come out 1 ms short.
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, dict):
        return {k: to_ocsf(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):  # a map<string,string>
            return {k: v for k, v in value}
        return [to_ocsf(x) for x in value]
    return value


def read(path):
    table = pq.read_table(path)
    meta = pq.ParquetFile(path).metadata
    physical = {meta.schema.column(i).path: str(meta.schema.column(i).logical_type) for i in range(meta.num_columns)}
    return {
        "path": path,
        "schema": {f.name: str(f.type) for f in table.schema},
        "nullable": {f.name: f.nullable for f in table.schema},
        "logical": physical,
        "compression": meta.row_group(0).column(0).compression if meta.num_row_groups else None,
        "kv": {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items() if not k.startswith(b"ARROW")},
        "rows": [to_ocsf(r) for r in table.to_pylist()],
    }


print(json.dumps([read(p) for p in sys.argv[1:]]))
