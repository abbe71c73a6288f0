"""Create or update a CloudFormation stack from infra/template.yaml on an emulator and wait for it.

Run through ./localstack/deploy (it sets the emulator environment): the emulator's own stack, with
the functions left out and the emulator's settings. ./scripts/deploy --endpoint-url uses it too,
with --param for every parameter and --no-emulator-settings (the functions on ministack).
"""

import argparse
import hashlib
import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
FAILED_SUFFIXES = ("_FAILED", "ROLLBACK_COMPLETE")


def emulator_settings(stack: str, endpoint: str) -> list:
    """The emulator's own stack: functions off (workers run as processes), its Redis, targets, scopes."""
    # The Redis URL lives in an SSM SecureString, as on AWS; the stack only names it.
    redis_parameter = f"/{stack}/redis-url"
    boto3.client("ssm", endpoint_url=endpoint).put_parameter(
        Name=redis_parameter, Type="SecureString", Overwrite=True,
        Value=os.environ.get("STOKER_REDIS_URL", "redis://127.0.0.1:6390"))
    params = [
        {"ParameterKey": "DeployFunctions", "ParameterValue": "false"},
        {"ParameterKey": "RedisUrlParameterName", "ParameterValue": redis_parameter},
        # The roles' required scopes (the emulator's functions and the pipeline's demo tables).
        {"ParameterKey": "WarmableFunctionPrefix", "ParameterValue": "stoker-"},
        {"ParameterKey": "BackupTablePrefix", "ParameterValue": "stoker-demo-"},
        {"ParameterKey": "CacheTargetsJson",
         "ParameterValue": json.dumps([{"type": "http", "url": endpoint + "/_localstack/health"}])},
        {"ParameterKey": "CacheAllowedHosts", "ParameterValue": "127.0.0.1"},
        # The example function the pipeline deploys on ministack is the emulator's warm-up target.
        {"ParameterKey": "WarmupTargetsJson",
         "ParameterValue": json.dumps([{"function": "stoker-example-warmed", "concurrency": 3}])},
        {"ParameterKey": "WarmupBaselineTargetsJson",
         "ParameterValue": json.dumps([{"function": "stoker-example-warmed", "concurrency": 1}])},
    ]
    return params


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--outputs-dir", required=True)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    ap.add_argument("--bucket", default="stoker-templates", help="where the template is uploaded")
    ap.add_argument("--param", action="append", default=[], help="KEY=VALUE, repeatable")
    ap.add_argument("--no-emulator-settings", action="store_true",
                    help="only the --param values (no functions-off, targets or Redis parameter of the emulator's own stack)")
    args = ap.parse_args()

    endpoint = args.endpoint
    cfn = boto3.client("cloudformation", endpoint_url=endpoint)
    body = open(args.template, encoding="utf-8").read()
    # Templates over CloudFormation's 51,200-byte TemplateBody limit deploy from S3, as on AWS.
    s3 = boto3.client("s3", endpoint_url=endpoint)
    bucket = args.bucket
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError:
        pass  # already there
    key = f"template-{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    url = f"{endpoint.rstrip('/')}/{bucket}/{key}"
    params = [] if args.no_emulator_settings else emulator_settings(args.stack, endpoint)
    for kv in args.param:
        k, _, v = kv.partition("=")
        params = [p for p in params if p["ParameterKey"] != k] + [{"ParameterKey": k, "ParameterValue": v}]
    start = time.monotonic()
    try:
        cfn.describe_stacks(StackName=args.stack)
        exists = True
    except ClientError:
        exists = False
    action = None
    if exists:
        try:
            cfn.update_stack(StackName=args.stack, TemplateURL=url, Parameters=params,
                             Capabilities=["CAPABILITY_NAMED_IAM"])
            action = "updating"
        except ClientError as e:
            if "No updates are to be performed" in str(e):
                action = "unchanged"
            elif "Unresolved resource dependencies" not in str(e):
                print(f"[stoker] error: CloudFormation refused the update of {args.stack}: {e}", file=sys.stderr)
                return 1
            else:
                # LocalStack cannot update a template whose resources became conditional; the
                # emulator's own stack holds nothing to keep: recreate it (only for that error).
                print(f"[stoker] the emulator could not update stack {args.stack} ({e}); recreating it",
                      file=sys.stderr)
                if not delete(cfn, args.stack, start, args.timeout):
                    return 1
    if action is None:
        try:
            cfn.create_stack(StackName=args.stack, TemplateURL=url, Parameters=params,
                             Capabilities=["CAPABILITY_NAMED_IAM"])
            action = "creating"
        except ClientError as e:
            print(f"[stoker] error: CloudFormation refused the template: {e}", file=sys.stderr)
            print("  fix: run `cfn-lint infra/template.yaml` and correct what it reports", file=sys.stderr)
            return 1

    print(f"[stoker] stack {args.stack}: {action}", file=sys.stderr)
    while True:
        stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
        status = stack["StackStatus"]
        if status in DONE:
            break
        if status.endswith(FAILED_SUFFIXES):
            print(f"[stoker] error: stack {args.stack} ended in {status}", file=sys.stderr)
            for ev in cfn.describe_stack_events(StackName=args.stack)["StackEvents"][:15]:
                if ev.get("ResourceStatusReason"):
                    print(f"  {ev['LogicalResourceId']}: {ev['ResourceStatus']}: {ev['ResourceStatusReason']}",
                          file=sys.stderr)
            print("  fix: correct the resource named above; ./localstack/down && ./localstack/up starts clean",
                  file=sys.stderr)
            return 1
        if time.monotonic() - start > args.timeout:
            print(f"[stoker] error: stack {args.stack} still {status} after {args.timeout:.0f}s", file=sys.stderr)
            return 1
        time.sleep(0.5)

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    path = os.path.join(args.outputs_dir, f"outputs-{args.stack}.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(outputs, f, indent=2, sort_keys=True)
    print(f"[stoker] stack {args.stack} {status} in {time.monotonic() - start:.1f}s; outputs in {path}",
          file=sys.stderr)
    return 0


def delete(cfn, stack: str, start: float, timeout: float) -> bool:
    """Deletes `stack` and waits until it is gone; False after `timeout`."""
    cfn.delete_stack(StackName=stack)
    while True:
        try:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        except ClientError:
            return True
        if status == "DELETE_COMPLETE":
            return True
        if time.monotonic() - start > timeout:
            print(f"[stoker] error: stack {stack} not deleted after {timeout:.0f}s", file=sys.stderr)
            return False
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
