"""Play Twilio's part of a call against the local stack: signed webhooks.

    python -m infra.local.twilio_call --base <webhook_base_url> --token <auth token> \\
        --from +4917055501234 --to <one of the tenant's numbers> [--answer <operator user id>] [--seconds 192]

Posts the voice webhook as Twilio would (form-encoded, ``X-Twilio-Signature``
computed with the twilio library's RequestValidator over the URL and the
form) and prints the TwiML the CRM answers. With ``--answer``, then the
status callbacks of that operator's browser leg and of the call, so the call
lands in the call log and the caller's history (the job pump processes them).
``--outgoing <user id>`` plays an operator calling ``--to`` from the browser.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import urllib.error
import urllib.request
from urllib.parse import urlencode


def post(url: str, params: dict[str, str], token: str) -> tuple[int, str]:
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(token).compute_signature(url, params)
    request = urllib.request.Request(
        url,
        data=urlencode(params).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.twilio_call", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="webhook_base_url of GET /v1/voip/account")
    parser.add_argument("--token", required=True, help="the account's auth token (the fake's: see make run)")
    parser.add_argument("--from", dest="caller", default="+4917055501234")
    parser.add_argument("--to", required=True)
    parser.add_argument("--answer", help="user id of the operator who answers")
    parser.add_argument("--outgoing", help="user id of the operator who calls --to from the browser")
    parser.add_argument("--seconds", type=int, default=192)
    args = parser.parse_args(argv)
    base, parent = args.base.rstrip("/"), call_sid()

    def show(what: str, answer: tuple[int, str]) -> None:
        print(f"{what}: HTTP {answer[0]}\n{answer[1]}\n")

    if args.outgoing:
        show(
            "outgoing",
            post(f"{base}/outgoing", {"CallSid": parent, "From": f"client:{args.outgoing}", "To": args.to}, args.token),
        )
        return 0
    show("voice", post(f"{base}/voice", {"CallSid": parent, "From": args.caller, "To": args.to}, args.token))
    if args.answer:
        leg = call_sid()
        # The callback URL and its query, as the TwiML above names them (sorted keys).
        status_url = f"{base}/status?" + urlencode(sorted({"leg": "client"}.items()))
        common = {"CallSid": leg, "ParentCallSid": parent, "From": args.caller, "To": f"client:{args.answer}"}
        show("answered", post(status_url, {**common, "CallStatus": "in-progress"}, args.token))
        show(
            "leg completed",
            post(status_url, {**common, "CallStatus": "completed", "CallDuration": str(args.seconds)}, args.token),
        )
    final = {"CallSid": parent, "From": args.caller, "To": args.to, "CallStatus": "completed"}
    show("call completed", post(f"{base}/status", {**final, "CallDuration": str(args.seconds + 8)}, args.token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
