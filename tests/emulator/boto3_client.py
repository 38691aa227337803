#!/usr/bin/python3
"""boto3 peer for the emulator tests: runs a list of Chime calls and prints one JSON result each.

usage: boto3_client.py ENDPOINT_URL CA_BUNDLE < calls.json
calls.json: [{"op": "invite_users", "params": {...}, "secret": "optional override",
              "unsigned": false}, ...]
Each result: {"ok": true, "response": {...}} or
             {"ok": false, "exception": "<modelled class name>", "code": ..., "message": ...,
              "status": N, "modeled_code": ..., "request_id": ...}
Retries are off (max_attempts=1) so a 429/503 arrives as the exception it is.
"""
import json
import sys

import boto3
import botocore
from botocore.config import Config


def main():
    endpoint, ca = sys.argv[1], sys.argv[2]
    calls = json.load(sys.stdin)
    results = []
    for call in calls:
        cfg = Config(retries={"max_attempts": 1, "mode": "standard"})
        if call.get("unsigned"):
            cfg = cfg.merge(Config(signature_version=botocore.UNSIGNED))
        client = boto3.client(
            "chime",
            region_name="us-east-1",
            endpoint_url=endpoint,
            verify=ca,
            aws_access_key_id=call.get("access_key", "AKIDEXAMPLE"),
            aws_secret_access_key=call.get("secret", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            config=cfg,
        )
        try:
            resp = getattr(client, call["op"])(**call.get("params", {}))
            resp.pop("ResponseMetadata", None)
            results.append({"ok": True, "response": resp})
        except client.exceptions.ClientError as e:
            err = e.response.get("Error", {})
            results.append({
                "ok": False,
                "exception": type(e).__name__,
                "code": err.get("Code"),
                "message": err.get("Message"),
                "modeled_code": e.response.get("Code"),
                "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                "request_id": e.response.get("ResponseMetadata", {}).get("RequestId"),
            })
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()
