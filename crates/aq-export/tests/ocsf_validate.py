"""Validates OCSF events (JSON files) against the OCSF 1.5.0 schema shipped in the PyPI
package pydantic-ocsf (3.0.0), offline.

pydantic-ocsf builds models from the schema JSON it ships (ocsf/schemas/v1_5_0.json): it checks
required attributes, types, enum values, caption/id consistency (severity vs severity_id...) and
class_uid/category_uid/type_uid. Its models accept unknown attributes, so this script also
walks the validated model and fails on any attribute the schema does not define (outside the
free-form `unmapped` object), and checks the base-event attributes OCSF requires.

Usage: python3 ocsf_validate.py FILE...   -> prints "ok FILE" per valid file, exits 1 on any failure.
"""
import json
import sys

from pydantic import BaseModel

from ocsf.v1_5_0 import events

CLASSES = {
    2004: events.DetectionFinding,
    5001: events.InventoryInfo,
    3004: events.EntityManagement,
}
BASE_REQUIRED = ["activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid"]


def extras(obj, path):
    out = []
    if isinstance(obj, BaseModel):
        for k in (obj.model_extra or {}):
            out.append(f"{path}.{k}")
        for name in type(obj).model_fields:
            if name == "unmapped":
                continue
            out.extend(extras(getattr(obj, name), f"{path}.{name}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(extras(v, f"{path}[{i}]"))
    return out


def check(path):
    with open(path) as f:
        data = json.load(f)
    cls = CLASSES.get(data.get("class_uid"))
    if cls is None:
        return f"class_uid {data.get('class_uid')!r} not expected"
    missing = [k for k in BASE_REQUIRED if k not in data]
    if missing:
        return f"missing required base attributes {missing}"
    if data["type_uid"] != data["class_uid"] * 100 + data["activity_id"]:
        return "type_uid != class_uid * 100 + activity_id"
    try:
        model = cls.model_validate(data)
    except Exception as e:  # pydantic.ValidationError and validator ValueErrors
        return str(e)
    unknown = extras(model, "$")
    if unknown:
        return f"attributes not in the schema: {unknown}"
    if model.metadata.version != "1.5.0":
        return f"metadata.version {model.metadata.version!r}"
    return None


failed = 0
for p in sys.argv[1:]:
    err = check(p)
    if err:
        failed += 1
        print(f"INVALID {p}: {err}")
    else:
        print(f"ok {p}")
sys.exit(1 if failed else 0)
