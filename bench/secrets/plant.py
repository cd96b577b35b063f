"""Plant a few fake secrets (deterministic) into the benchmark corpus, at recorded places."""

from __future__ import annotations

import json
import random
import string
import sys
import zlib
from pathlib import Path

ALNUM = string.ascii_letters + string.digits


def _github_token(rng: random.Random) -> str:
    body = "".join(rng.choice(ALNUM) for _ in range(30))
    n, out = zlib.crc32(body.encode()), ""
    digits = string.digits + string.ascii_uppercase + string.ascii_lowercase
    while n:
        n, r = divmod(n, 62)
        out = digits[r] + out
    return "ghp_" + body + out.rjust(6, "0")


def main(corpus: Path) -> None:
    rng = random.Random(1234)
    target = corpus / "planted"
    target.mkdir(exist_ok=True)
    secrets = {
        "aws.py": 'AWS_ACCESS_KEY_ID = "AKIA'
        + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
        + '"\n',
        "github.py": f'TOKEN = "{_github_token(rng)}"\n',
        "stripe.js": 'const stripe = require("stripe")("sk_live_'
        + "".join(rng.choice(ALNUM) for _ in range(24))
        + '");\n',
        "slack.env": "SLACK_WEBHOOK=https://hooks.slack.com/services/T0"
        + "".join(rng.choice(string.ascii_uppercase) for _ in range(8))
        + "/B0"
        + "".join(rng.choice(string.ascii_uppercase) for _ in range(8))
        + "/"
        + "".join(rng.choice(ALNUM) for _ in range(24))
        + "\n",
        "db.yaml": "database:\n  url: postgres://app:"
        + "".join(rng.choice(ALNUM) for _ in range(16))
        + "@db.internal:5432/app\n",
    }
    for name, text in secrets.items():
        (target / name).write_text(text)
    (target / "MANIFEST.json").write_text(json.dumps(sorted(secrets), indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
