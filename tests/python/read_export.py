"""Reads a stoker export part (DynamoDB JSON lines, gunzipped, on stdin) with boto3's own
TypeDeserializer, written independently of stoker's writer, and prints each item in a canonical
JSON form: numbers as their decimal text, sets as sorted lists, binaries as hex.

Binary values must be base64 (as AWS's DynamoDB JSON has them): they are decoded here with
validation before the deserializer sees them; an unknown type tag makes the deserializer raise.
"""
import base64
import json
import sys
from decimal import Decimal

from boto3.dynamodb.types import Binary, TypeDeserializer


def unbase64(v):
    (tag, inner), = v.items()
    if tag == "B":
        return {"B": base64.b64decode(inner, validate=True)}
    if tag == "BS":
        return {"BS": [base64.b64decode(x, validate=True) for x in inner]}
    if tag == "L":
        return {"L": [unbase64(x) for x in inner]}
    if tag == "M":
        return {"M": {k: unbase64(x) for k, x in inner.items()}}
    return v


def canonical(x):
    if isinstance(x, Decimal):
        return {"n": str(x)}
    if isinstance(x, Binary):
        return {"b": bytes(x).hex()}
    if isinstance(x, (bytes, bytearray)):
        return {"b": bytes(x).hex()}
    if isinstance(x, set):
        return {"set": sorted(json.dumps(canonical(v), sort_keys=True, separators=(",", ":")) for v in x)}
    if isinstance(x, list):
        return [canonical(v) for v in x]
    if isinstance(x, dict):
        return {k: canonical(v) for k, v in x.items()}
    return x


deserialize = TypeDeserializer().deserialize
for line in sys.stdin:
    if line.strip():
        item = {k: deserialize(unbase64(v)) for k, v in json.loads(line).items()}
        print(json.dumps(canonical(item), sort_keys=True))
