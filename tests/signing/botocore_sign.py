#!/usr/bin/python3
"""botocore_sign.py: signs requests with botocore's SigV4Auth for the cross-check in
botocore_test.cpp.

Reads one JSON object per line from the file named by the first argument (else stdin):
  {"method", "url", "headers": [[name, value], ...], "body_hex", "time": "YYYYMMDDTHHMMSSZ",
   "region", "service", "access_key", "secret_key", "token"}
and writes one JSON object per line: {"authorization": ..., "canonical": ...}.
Exits 3 (a reason on stderr) when botocore cannot be imported, so the test can skip.
"""
import datetime
import json
import sys
import types

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover - environment dependent
    sys.stderr.write("botocore unavailable: %s\n" % e)
    sys.exit(3)


class FixedClock(datetime.datetime):
    """A datetime whose utcnow() is the request's fixed time (botocore 1.29 reads utcnow())."""
    fixed = None

    @classmethod
    def utcnow(cls):
        return cls.fixed


botocore.auth.datetime = types.SimpleNamespace(datetime=FixedClock)


class RecordingSigV4Auth(botocore.auth.SigV4Auth):
    """SigV4Auth that keeps the canonical request it signed, for diagnostics on a mismatch."""
    last_canonical = ""

    def canonical_request(self, request):
        self.last_canonical = super().canonical_request(request)
        return self.last_canonical


def sign(job):
    FixedClock.fixed = datetime.datetime.strptime(job["time"], "%Y%m%dT%H%M%SZ")
    creds = Credentials(job["access_key"], job["secret_key"], job.get("token") or None)
    request = AWSRequest(method=job["method"], url=job["url"], data=bytes.fromhex(job["body_hex"]))
    for name, value in job["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: duplicates are kept in order
    auth = RecordingSigV4Auth(creds, job["service"], job["region"])
    auth.add_auth(request)
    return {"authorization": request.headers["Authorization"],
            "canonical": auth.last_canonical}


def main():
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    for line in source:
        if line.strip():
            sys.stdout.write(json.dumps(sign(json.loads(line))) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
