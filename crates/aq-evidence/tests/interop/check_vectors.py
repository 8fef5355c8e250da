#!/usr/bin/env python3
"""Independent check of aq's record vectors with code aq did not write: pycose (COSE_Sign1
signatures) and cbor2 (CBOR decoding, deterministic re-encoding).

Usage: check_vectors.py VECTOR_DIR

For every single-record vector: valid ones must pass every check; each corrupted one must fail at
least one. For chain files (*.cbors): signatures and previous-hash links are checked with pycose
and hashlib. Exits 0 when every vector behaves as its manifest says, 1 otherwise.
"""
import hashlib
import io
import json
import sys

import cbor2
from pycose.keys import EC2Key, OKPKey
from pycose.messages import Sign1Message

KNOWN_CLAIMS = {10, 256, 260, 261, 263, 265, 267, 270, 271,
                -65537, -65538, -65539, -65540, -65541, -65542}


class Reject(Exception):
    pass


def decode_one(data):
    """Decode exactly one item; reject trailing bytes."""
    fp = io.BytesIO(data)
    obj = cbor2.CBORDecoder(fp).decode()
    if fp.tell() != len(data):
        raise Reject("trailing bytes")
    return obj


def deterministic(data, what):
    """Deterministic-encoding check: decoding and re-encoding canonically must give the same bytes.
    Catches non-shortest integers, indefinite lengths, duplicate or unordered map keys."""
    obj = decode_one(data)
    if cbor2.dumps(obj, canonical=True) != data:
        raise Reject(f"{what} is not deterministically encoded")
    return obj


def load_keys(d):
    keys = json.load(open(f"{d}/keys.json"))
    ed = bytes.fromhex(keys["ed25519"]["public"].split(":", 1)[1])
    p = bytes.fromhex(keys["es256"]["public"].split(":", 1)[1])
    assert p[0] == 4 and len(p) == 65
    return {
        "ed25519": OKPKey(crv="ED25519", x=ed),
        "es256": EC2Key(crv="P_256", x=p[1:33], y=p[33:]),
    }


def check_record(data, key):
    outer = deterministic(data, "COSE_Sign1")
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != 18:
        raise Reject("not a tagged COSE_Sign1")
    prot, unprot, payload, sig = outer.value
    hdr = deterministic(prot, "protected header")
    if hdr.get(1) not in (-8, -7):
        raise Reject(f"algorithm {hdr.get(1)} not accepted")
    if set(hdr) - {1, 4}:
        raise Reject("unknown protected header parameter")
    if unprot != {}:
        raise Reject("unprotected header not empty")
    msg = Sign1Message.decode(data)
    msg.key = key
    try:
        ok = msg.verify_signature()
    except Exception as e:  # pycose raises on algorithm/key mismatch
        raise Reject(f"pycose: {e}")
    if not ok:
        raise Reject("pycose: signature does not verify")
    claims = deterministic(payload, "payload")
    if set(claims) - KNOWN_CLAIMS:
        raise Reject(f"unknown claims {set(claims) - KNOWN_CLAIMS}")
    if claims.get(265) != "urn:aq:record:1":
        raise Reject("wrong profile")
    for k in (256, -65537, -65538, -65539, -65541, -65542):
        if k not in claims:
            raise Reject(f"missing claim {k}")
    if len(claims[-65538]) != 32 or not 1 <= claims[-65541] <= 8:
        raise Reject("bad prev or kind")
    return claims


def split_sequence(data):
    fp = io.BytesIO(data)
    dec = cbor2.CBORDecoder(fp)
    out = []
    while fp.tell() < len(data):
        start = fp.tell()
        dec.decode()
        out.append(data[start:fp.tell()])
    return out


def main(d):
    keys = load_keys(d)
    manifest = json.load(open(f"{d}/manifest.json"))
    failures = 0
    counts = {"valid": 0, "rejected": 0, "chains": 0}
    for v in manifest:
        data = open(f"{d}/{v['file']}", "rb").read()
        key = keys[v["key"]]
        expect = v["expect"]
        if expect.startswith("chain:"):
            items = split_sequence(data)
            bad = 0
            links = 0
            prev = None
            for item in items:
                try:
                    claims = check_record(item, key)
                except Reject:
                    bad += 1
                    prev = None
                    continue
                if prev is not None and claims[-65538] == prev:
                    links += 1
                prev = hashlib.sha256(item).digest()
            forged = expect == "chain:forgery"
            if (bad > 0) != forged:
                print(f"FAIL {v['file']}: {bad} bad signatures, expected forgery={forged}")
                failures += 1
            if v["file"].startswith("chain-valid") and links != len(items) - 1:
                print(f"FAIL {v['file']}: only {links} of {len(items) - 1} links verify")
                failures += 1
            counts["chains"] += 1
            continue
        try:
            check_record(data, key)
            verdict = None
        except Exception as e:  # cbor2 decode errors are rejections too
            verdict = f"{type(e).__name__}: {e}"
        if expect == "valid":
            if verdict is not None:
                print(f"FAIL {v['file']}: valid vector rejected: {verdict}")
                failures += 1
            else:
                counts["valid"] += 1
        else:
            if verdict is None:
                print(f"FAIL {v['file']}: corrupted vector ({expect}) accepted")
                failures += 1
            else:
                counts["rejected"] += 1
                print(f"ok   {v['file']}: rejected ({verdict})")
    print(f"pycose/cbor2: {counts['valid']} valid accepted, {counts['rejected']} corrupted rejected, "
          f"{counts['chains']} chains checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
