#!/usr/bin/python3
"""botocore_endpoint.py: where botocore sends a Chime request and which region signs it, for the
cross-check in endpoint_rules_test.cpp. Same files and environment as `chime-onboard endpoint`.

usage: botocore_endpoint.py [--profile P] [--region R] [--endpoint-url URL]
Prints {"endpoint_url": ..., "signing_region": ...}: the URL without the operation's path, the
region from the signature's credential scope. Nothing is sent: the request is caught just before
it would leave. Exits 3 (a reason on stderr) when botocore cannot be imported, so the test can
skip.
"""
import argparse
import json
import sys

try:
    import botocore.session
    from botocore.config import Config
except ImportError as e:  # pragma: no cover - environment dependent
    sys.stderr.write("botocore unavailable: %s\n" % e)
    sys.exit(3)


class Caught(Exception):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile")
    ap.add_argument("--region")
    ap.add_argument("--endpoint-url")
    a = ap.parse_args()
    session = botocore.session.Session(profile=a.profile)
    client = session.create_client(
        "chime", region_name=a.region, endpoint_url=a.endpoint_url,
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 0}))
    seen = {}

    def before_send(request, **kwargs):
        seen["url"] = request.url
        seen["authorization"] = request.headers["Authorization"].decode() \
            if isinstance(request.headers["Authorization"], bytes) \
            else request.headers["Authorization"]
        raise Caught()

    client.meta.events.register("before-send.chime", before_send)
    try:
        client.list_accounts()
    except Caught:
        pass
    url = seen["url"]
    url = url[: url.index("/accounts")]
    scope = seen["authorization"].split("Credential=")[1].split(",")[0].split("/")
    print(json.dumps({"endpoint_url": url, "signing_region": scope[2]}))


if __name__ == "__main__":
    main()
