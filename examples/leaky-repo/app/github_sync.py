"""Mirror issues to GitHub (FAKE token planted for the clearance demo)."""

import urllib.request

GITHUB_TOKEN = "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"


def fetch(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": f"token {GITHUB_TOKEN}"})
    with urllib.request.urlopen(req) as resp:  # noqa: S310 - demo code
        return resp.read()
