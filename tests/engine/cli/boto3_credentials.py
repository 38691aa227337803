#!/usr/bin/python3
"""boto3_credentials.py: the credentials Debian's boto3 resolves from this process's environment
and files, for the cross-checks in credential_chain_test.cpp. Prints "METHOD ACCESS_KEY_ID".

Debian's botocore (1.29) predates the AWS_ENDPOINT_URL_<SERVICE> variables, so the clients its
credential providers create for STS and the SSO portal are given AWS_ENDPOINT_URL_STS and
AWS_ENDPOINT_URL_SSO here, as newer botocore does itself: that is what points it at the test's
responders. Nothing else is changed.
"""
import os

import boto3

session = boto3.Session()
core = session._session
create_client = core.create_client


def create_client_at_endpoint(service_name, *args, **kwargs):
    url = os.environ.get("AWS_ENDPOINT_URL_" + service_name.upper())
    if url and not kwargs.get("endpoint_url"):
        kwargs["endpoint_url"] = url
    return create_client(service_name, *args, **kwargs)


core.create_client = create_client_at_endpoint
c = session.get_credentials()
print(c.method, c.get_frozen_credentials().access_key)
