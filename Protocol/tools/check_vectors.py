#!/usr/bin/env python3
"""An independent implementation of Herd's signing rules, written from Protocol/README.md alone.

Runs every case of Protocol/vectors/signing.json and checks that it reaches the expected outcome.
It shares no code with the Swift implementation: if both agree on every vector, the README is
precise enough to build a compatible agent or controller. Needs `cryptography` and `jsonschema`.
Exit 0 when every vector passes.
"""
import base64
import datetime
import hashlib
import json
import pathlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
import jsonschema
from referencing import Registry, Resource

here = pathlib.Path(__file__).resolve().parent.parent
vectors = json.loads((here / "vectors" / "signing.json").read_text())
schemas = {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in (here / "schemas").glob("*.schema.json")}
registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
TYPES = {"report": "application/vnd.herd.report.v1+json", "command_result": "application/vnd.herd.command-result.v1+json"}
SCHEMA_OF = {"report": "report", "command_result": "command-result"}


class Refused(Exception):
    def __init__(self, *codes):
        self.codes = codes


def b64(text):
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def raw(public_key):
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_bytes):
    return hashlib.sha256(public_bytes).hexdigest()


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def valid_signers(envelope, trusted):
    """Distinct trusted key ids with a valid signature over PAE(payloadType, payload)."""
    message = pae(envelope["payloadType"], b64(envelope["payload"]))
    found = []
    for entry in envelope["signatures"]:
        keyid = entry["keyid"]
        if keyid in found or keyid not in trusted:
            continue
        try:
            trusted[keyid].verify(b64(entry["sig"]), message)
            found.append(keyid)
        except (InvalidSignature, ValueError):
            pass
    return found


def open_agent_message(text, kind, verifier, keys):
    try:
        envelope = json.loads(text)
    except ValueError:
        raise Refused("malformed")
    if not envelope.get("signatures"):
        raise Refused("invalid_field")
    if envelope["payloadType"] != TYPES[kind]:
        raise Refused("unsupported_version")
    public = keys[verifier["key"]]
    if not valid_signers(envelope, {key_id(raw(public)): public}):
        raise Refused("bad_signature")
    try:
        message = json.loads(b64(envelope["payload"]))
    except ValueError:
        raise Refused("malformed")
    validator = jsonschema.Draft202012Validator(schemas[SCHEMA_OF[kind]], registry=registry)
    if any(True for _ in validator.iter_errors(message)):
        raise Refused("malformed", "invalid_field")
    if message["agent_id"] != verifier["agent_id"]:
        raise Refused("identity_mismatch")
    skew = (parse_time(message["sent_at"]) - parse_time(verifier["now"])).total_seconds()
    if abs(skew) > verifier["max_clock_skew_seconds"]:
        raise Refused("clock_skew")
    last = verifier.get("last_accepted_sequence")
    if last is None or message["sequence"] > last:
        return "accept"
    if message["sequence"] == last:
        return "retry_of_last_accepted"
    raise Refused("replayed_sequence")


def main():
    failures = []
    keys = {}
    for name, key in vectors["keys"].items():
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["seed_hex"]))
        public_bytes = raw(private.public_key())
        if base64.b64encode(public_bytes).decode() != key["public_key_base64"] or key_id(public_bytes) != key["key_id"]:
            failures.append(f"key {name}: public key or key id does not derive from the seed")
        keys[name] = private.public_key()
    for v in vectors["ed25519"]:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["seed_hex"]))
        if private.sign(bytes.fromhex(v["message_hex"])).hex() != v["signature_hex"]:
            failures.append(f"ed25519 {v['source']}: signature differs")
    for v in vectors["pae"]:
        if pae(v["payload_type"], v["payload_utf8"].encode()) != v["pae_utf8"].encode():
            failures.append(f"pae {v['payload_type']}: differs")
    for case in vectors["agent_message_cases"]:
        text = case.get("envelope_text") or json.dumps(case["envelope"])
        try:
            outcome = open_agent_message(text, case["payload_kind"], case["verifier"], keys)
            ok = outcome == case["expect"]
        except Refused as refused:
            outcome = "/".join(refused.codes)
            ok = case["expect"] in refused.codes
        if not ok:
            failures.append(f"agent case {case['name']}: got {outcome}, expected {case['expect']}")
    for case in vectors["command_cases"]:
        trusted = {key_id(raw(keys[n])): keys[n] for n in case["trusted"]}
        requester = key_id(raw(keys[case["requester"]]))
        signers = valid_signers(case["envelope"], trusted)
        counted = [k for k in signers if k != requester]
        signed = requester in signers
        outcome = "accept" if signed and len(counted) >= case["threshold"] else "bad_signature"
        if outcome != case["expect"]:
            failures.append(f"command case {case['name']}: got {outcome}, expected {case['expect']}")
        elif outcome == "accept" and counted != [key_id(raw(keys[n])) for n in case["counted"]]:
            failures.append(f"command case {case['name']}: counted the wrong keys")
    cases = len(vectors["agent_message_cases"]) + len(vectors["command_cases"])
    for failure in failures:
        print(failure)
    print(f"check_vectors: {cases} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
