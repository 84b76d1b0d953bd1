#!/usr/bin/env python3
"""Writes the seed inputs of each fuzz target (run by `make fuzz`; the files are not kept).

Inputs are decoded with the `arbitrary` crate: an enum variant is chosen by a little-endian u32
(variant k of n for any value in [k*2^32/n, (k+1)*2^32/n)), and the last field takes the rest.
"""
import json, os, struct, sys, glob

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(root))
out = sys.argv[1]


def variant(k, n):
    return struct.pack("<I", -(-k * 2**32 // n))


def write(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def body_of(event_file):
    with open(event_file) as f:
        event = json.load(f)
    return (event.get("body") or "").encode()


queries = {
    "order": 'query($id: ID!) { order(id: $id) { id status version total { amount currency } lines { sku quantity } } }',
    "orders": '{ orders(first: 5, after: "eyJ0ZW5hbnQiOiJkZW1vIn0.AAAA") { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }',
    "create": 'mutation { createOrder(input: {currency: "USD", customer: {name: "Ana", email: "ana@example.com"}, destination: {name: "Ana", line1: "1 Main St", city: "Springfield", postalCode: "62701", country: "US"}, lines: [{sku: "A", vendor: "v1", quantity: 1, unitPrice: "10.00"}]}) { order { id } userErrors { code field message } } }',
    "fragments": 'query Q { ...F } fragment F on Query { __typename viewer { subject roles } }',
    "typename": '{ __typename }',
}
for name, q in queries.items():
    write("graphql_request", name, variant(0, 2) + json.dumps({"query": q, "variables": {"id": "01J00000000000000000000000"}}).encode())

write("cursor_decode", "state", b"\x00" + json.dumps({"tenant": "demo", "listing": "orders", "last_sort_key": "O#1", "shards": ["Start", "Done", {"After": {"pk": "T#demo#O", "sk": "O#1"}}]}).encode())

for f in glob.glob(os.path.join(repo, "events/webhook-add-order/*.json")):
    write("webhook", "add-" + os.path.basename(f), variant(0, 5) + b"\x01\x00\x00\x00" + body_of(f))
for f in glob.glob(os.path.join(repo, "events/webhook-shipment-tracker/*.json")):
    write("webhook", "track-" + os.path.basename(f), variant(1, 5) + b"\x02\x00\x00\x00" + body_of(f))

write("jwt_verify", "bearer", variant(0, 3) + b"Bearer eyJhbGciOiJFUzI1NiIsImtpZCI6ImRldiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwOi8vbG9jYWxob3N0L2RldiIsInN1YiI6ImEiLCJ0ZW5hbnQiOiJkZW1vIn0.AAAA")
write("money_ids", "usd", b"USD\x00" * 4 + b"12.34")
