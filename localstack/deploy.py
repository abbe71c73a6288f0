"""Create or update a CloudFormation stack from infra/template.yaml and wait for it.

Run through ./localstack/deploy (it sets the emulator environment). Prints the outputs.
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--template", required=True)
    ap.add_argument("--stack", required=True)
    ap.add_argument("--outputs-dir", required=True)
    ap.add_argument("--timeout", type=float, default=180)
    args = ap.parse_args()

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    cfn = boto3.client("cloudformation", endpoint_url=endpoint)
    body = open(args.template, encoding="utf-8").read()
    # Templates over CloudFormation's 51,200-byte TemplateBody limit deploy from S3, as on AWS.
    s3 = boto3.client("s3", endpoint_url=endpoint)
    bucket = "stoker-templates"
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError:
        pass  # already there
    key = f"template-{hashlib.sha256(body.encode()).hexdigest()}.yaml"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    url = f"{endpoint.rstrip('/')}/{bucket}/{key}"
    # The Redis URL lives in an SSM SecureString, as on AWS; the stack only names it.
    redis_parameter = f"/{args.stack}/redis-url"
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
    ]
    start = time.monotonic()
    try:
        cfn.describe_stacks(StackName=args.stack)
        exists = True
    except ClientError:
        exists = False
    try:
        if exists:
            cfn.update_stack(StackName=args.stack, TemplateURL=url, Parameters=params,
                             Capabilities=["CAPABILITY_NAMED_IAM"])
            action = "updating"
        else:
            cfn.create_stack(StackName=args.stack, TemplateURL=url, Parameters=params,
                             Capabilities=["CAPABILITY_NAMED_IAM"])
            action = "creating"
    except ClientError as e:
        if "No updates are to be performed" in str(e):
            action = "unchanged"
        else:
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


if __name__ == "__main__":
    sys.exit(main())
