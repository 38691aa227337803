#!/usr/bin/python3
"""boto3_invite.py: the peer baseline for bench/engine_bench.sh.

What a typical script does with boto3: a thread pool calling chime.invite_users with 50-address
batches, retries left to botocore (one retry mode per run). Prints one JSON line:

  {"mode": ..., "threads": N, "batches": B, "ok_batches": .., "failed_batches": ..,
   "unfinished_batches": .., "emails_ok": .., "elapsed_seconds": .., "emails_per_second": ..,
   "attempts": .., "status_429_seen": .., "error_codes": {...}, "lost_addresses_file": path}

Written for Debian's python3-boto3 1.26 / botocore 1.29 (run it with /usr/bin/python3).

  /usr/bin/python3 bench/peers/boto3_invite.py --endpoint-url https://127.0.0.1:PORT --ca ca.pem \
      --input corpus.txt --account-id bench --mode standard --threads 32 [--deadline 120]

Batches still running when --deadline seconds have passed are reported as unfinished (botocore's
legacy backoff can sleep minutes per attempt) and the process exits without waiting for them.
"""
import argparse
import collections
import concurrent.futures
import json
import os
import sys
import threading
import time

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def read_batches(path, default_account):
    """{account: [50-address batches]} in input order; a CSV header email,account_id names each
    row's account (an empty one is default_account), else the file is one address a line."""
    by_account = {}
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip()]
    csv = bool(lines) and lines[0].replace(" ", "") == "email,account_id"
    for line in lines[1:] if csv else lines:
        email, _, account = line.partition(",") if csv else (line, "", "")
        by_account.setdefault(account or default_account, []).append(email)
    return {k: [v[i:i + 50] for i in range(0, len(v), 50)] for k, v in by_account.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint-url", required=True)
    ap.add_argument("--ca", required=True, help="CA bundle (the emulator's --write-ca file)")
    ap.add_argument("--input", required=True,
                    help="one address a line, or a CSV whose header is email,account_id")
    ap.add_argument("--account-id", default="bench")
    ap.add_argument("--mode", choices=["legacy", "standard", "adaptive"], required=True)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--max-attempts", type=int, default=10)
    ap.add_argument("--deadline", type=float, default=180.0, help="seconds before giving up waiting")
    ap.add_argument("--lost", help="write the addresses of failed/unfinished batches here")
    a = ap.parse_args()

    by_account = read_batches(a.input, a.account_id)
    # Accounts' batches interleaved, as a script walking an interleaved input would send them.
    batches = []
    for k in range(max(len(v) for v in by_account.values())):
        batches.extend((acct, v[k]) for acct, v in by_account.items() if k < len(v))
    emails = [e for _, b in batches for e in b]

    cfg = Config(retries={"mode": a.mode, "max_attempts": a.max_attempts},
                 max_pool_connections=a.threads)
    client = boto3.session.Session().client(
        "chime", region_name="us-east-1", endpoint_url=a.endpoint_url, verify=a.ca,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=cfg)

    lock = threading.Lock()
    counts = collections.Counter()  # attempts, 429s seen (every attempt, retried or not)

    def on_needs_retry(response=None, **_):
        # Emitted once per attempt, before botocore decides whether to retry; returns None so the
        # retry handlers' decision stands.
        with lock:
            counts["attempts"] += 1
            if response is not None and response[0] is not None and response[0].status_code == 429:
                counts["status_429_seen"] += 1

    client.meta.events.register("needs-retry.chime.InviteUsers", on_needs_retry)

    def invite(job):
        account, batch = job
        try:
            client.invite_users(AccountId=account, UserEmailList=batch, UserType="PrivateUser")
            return None
        except ClientError as e:
            return e.response.get("Error", {}).get("Code", "ClientError")
        except Exception as e:  # connection errors etc.
            return type(e).__name__

    errors = collections.Counter()
    ok = failed = 0
    lost = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=a.threads)
    t0 = time.monotonic()
    futs = {pool.submit(invite, b): b for b in batches}
    done, not_done = concurrent.futures.wait(futs, timeout=a.deadline)
    elapsed = time.monotonic() - t0
    for fut in done:
        code = fut.result()
        if code is None:
            ok += 1
        else:
            failed += 1
            errors[code] += 1
            lost.extend(futs[fut][1])
    for fut in not_done:
        lost.extend(futs[fut][1])
    if a.lost:
        with open(a.lost, "w") as f:
            f.writelines(e + "\n" for e in lost)
    with lock:
        c = dict(counts)
    out = {
        "mode": a.mode, "threads": a.threads, "botocore": botocore.__version__,
        "batches": len(batches), "ok_batches": ok, "failed_batches": failed,
        "unfinished_batches": len(not_done), "emails_ok": ok * 50 if len(emails) % 50 == 0 else None,
        "elapsed_seconds": round(elapsed, 3),
        "emails_per_second": round(sum(len(futs[f][1]) for f in done if f.result() is None) / elapsed, 1),
        "attempts": c.get("attempts", 0), "status_429_seen": c.get("status_429_seen", 0),
        "error_codes": dict(errors),
    }
    print(json.dumps(out), flush=True)
    # Unfinished batches may be asleep in botocore's backoff: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
