"""The Powertools peer of ./scripts/bench-peer: Powertools for AWS Lambda (Python) BatchProcessor
(SQS, partial batch responses) + @idempotent_function on DynamoDB, around the same handler as
stoker's test worker (one UpdateItem per event), on the same table design (pk/sk).

It drives the handler as Lambda's SQS event source mapping would: ReceiveMessage (10), the
batch as a Lambda SQS event, then DeleteMessageBatch of the records not reported as failures.
When BENCH_EVENTS events are done it prints one JSON line: events, seconds (first receive to
last delete), CPU seconds, peak RSS (KiB), SQS and DynamoDB calls.

Environment: QUEUE_URL, TABLE, BENCH_EVENTS, and the AWS SDK's (endpoint, region, keys).
With PEER_DRAIN=1 it is one of several instances sharing the queue (Lambda's event source
mapping at a concurrency above 1): it stops once the queue has stayed empty for 3 receives
after its first message, and reports its own events with the wall-clock times of its first
receive and last delete (`first`, `last`), for the caller to add up.
With --ready it only imports and builds its clients, prints the seconds that took, and exits
(the cold-start figure).
"""
import json
import os
import resource
import sys
import time

started = time.perf_counter()
import boto3  # noqa: E402
from aws_lambda_powertools.utilities.batch import (  # noqa: E402
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.idempotency import (  # noqa: E402
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", "powertools-peer")
TABLE = os.environ.get("TABLE", "peer")
calls = {"sqs": 0, "dynamodb": 0}


def counting(service):
    def count(**_):
        calls[service] += 1

    return count


sqs = boto3.client("sqs")
ddb = boto3.client("dynamodb")
sqs.meta.events.register("before-send.*", counting("sqs"))
ddb.meta.events.register("before-send.*", counting("dynamodb"))


def keep_alive(request, **_):
    # As stoker_it::keep_alive: LocalStack closes every connection unless asked not to.
    request.headers["Connection"] = "keep-alive"


if os.environ.get("STOKER_PEER_KEEPALIVE") == "1":
    sqs.meta.events.register("before-send.*", keep_alive)
    ddb.meta.events.register("before-send.*", keep_alive)
persistence = DynamoDBPersistenceLayer(table_name=TABLE, key_attr="pk", sort_key_attr="sk", boto3_client=ddb)
config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=86400)
processor = BatchProcessor(event_type=EventType.SQS)


@idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=config)
def handle(event: dict) -> dict:
    # The same side effect as stoker's test worker: a counter per event (2 = done twice).
    ddb.update_item(TableName=TABLE, Key={"pk": {"S": f"EFFECT#{event['id']}"}, "sk": {"S": "EFFECT"}},
                    UpdateExpression="ADD effects :one", ExpressionAttributeValues={":one": {"N": "1"}})
    return {"ok": True}


def record_handler(record):
    return handle(event=json.loads(record.body))


class Context:
    function_name = "powertools-peer"

    @staticmethod
    def get_remaining_time_in_millis():
        return 60_000


def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss


def main():
    if "--ready" in sys.argv:
        print(json.dumps({"ready_seconds": time.perf_counter() - started}))
        return
    queue, want = os.environ["QUEUE_URL"], int(os.environ["BENCH_EVENTS"])
    drain = os.environ.get("PEER_DRAIN") == "1"
    done, first, first_wall, last_wall, empty = 0, None, None, None, 0
    while done < want:
        out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"])
        msgs = out.get("Messages", [])
        if not msgs:
            empty += 1
            if drain and first is not None and empty >= 3:
                break
            continue
        empty = 0
        first = first or time.perf_counter()
        first_wall = first_wall or time.time()
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:peer",
            "awsRegion": "us-east-1"} for m in msgs]}
        failed = {f["itemIdentifier"] for f in lambda_handler(event, Context())["batchItemFailures"]}
        ok = [m for m in msgs if m["MessageId"] not in failed]
        if ok:
            sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ok)])
        done += len(ok)
        last_wall = time.time()
    cpu, rss = usage()
    seconds = (last_wall - first_wall) if first_wall else 0.0
    print(json.dumps({"events": done, "seconds": seconds, "cpu_seconds": cpu, "rss_kib": rss,
                      "sqs_calls": calls["sqs"], "dynamodb_calls": calls["dynamodb"],
                      "first": first_wall, "last": last_wall}))


if __name__ == "__main__":
    main()
