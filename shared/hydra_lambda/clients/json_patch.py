"""JSON Patch (RFC 6902) over a JSON document, with JSON Pointers (RFC 6901): what ``PATCH
/admin/clients/{id}`` applies to the client's wire document before it is validated as a PUT.

Written here rather than taken from a library: the six operations are short, and every way a patch
can be wrong must end in one BadRequest naming the operation (a library raises half a dozen
exception types, some of them plain ``KeyError``/``TypeError``). ``apply`` never changes its input:
it works on a deep copy, so a patch whose last operation fails leaves nothing half applied.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hydra_lambda.errors import BadRequest

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")
MAX_OPERATIONS = 100
# A copy may double the document (copy "" into a member): 100 of them must not exhaust memory.
MAX_DOCUMENT_BYTES = 256 * 1024
_MEMBERS = {"op", "path", "value", "from"}


def apply(document: dict[str, Any], patch: Any) -> dict[str, Any]:
    """``document`` with ``patch`` (a list of operations) applied, all or nothing (RFC 6902 section 5)."""
    if not isinstance(patch, list):
        raise BadRequest("The JSON Patch must be an array of operations (RFC 6902).")
    if len(patch) > MAX_OPERATIONS:
        raise BadRequest(f"The JSON Patch may hold at most {MAX_OPERATIONS} operations.")
    result: Any = copy.deepcopy(document)
    for index, operation in enumerate(patch):
        result = _apply_one(result, operation, index)
        if len(json.dumps(result)) > MAX_DOCUMENT_BYTES:
            raise BadRequest(f"JSON Patch operation {index} makes the document larger than {MAX_DOCUMENT_BYTES} bytes.")
    if not isinstance(result, dict):
        raise BadRequest("The JSON Patch must leave a JSON object.")
    return result


def _apply_one(doc: Any, operation: Any, index: int) -> Any:
    where = f"JSON Patch operation {index}"
    if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
        raise BadRequest(f"{where} must be an object with an 'op'.")
    op = operation["op"]
    if op not in OPERATIONS:
        raise BadRequest(f"{where}: op '{op[:20]}' is not one of {', '.join(OPERATIONS)}.")
    unknown = set(operation) - _MEMBERS
    if unknown:
        raise BadRequest(f"{where}: unknown member '{sorted(unknown)[0][:40]}'.")
    path = _pointer(operation, "path", where)
    needs_value = op in ("add", "replace", "test")
    if needs_value and "value" not in operation:
        raise BadRequest(f"{where}: '{op}' needs a 'value'.")
    if op == "add":
        return _add(doc, path, copy.deepcopy(operation["value"]), where)
    if op == "remove":
        return _remove(doc, path, where)[0]
    if op == "replace":
        doc = _remove(doc, path, where)[0]
        return _add(doc, path, copy.deepcopy(operation["value"]), where)
    if op == "test":
        if not _equal(_get(doc, path, where), operation["value"]):
            raise BadRequest(f"{where}: test failed at '{_show(path)}'.")
        return doc
    source = _pointer(operation, "from", where)
    if op == "move":
        if path[:len(source)] == source and path != source:
            raise BadRequest(f"{where}: cannot move a value into one of its own children.")
        doc, value = _remove(doc, source, where)
        return _add(doc, path, value, where)
    return _add(doc, path, copy.deepcopy(_get(doc, source, where)), where)  # copy


def _pointer(operation: dict[str, Any], member: str, where: str) -> list[str]:
    """The reference tokens of a JSON Pointer (RFC 6901 section 3 and 4: ``~1`` is '/', ``~0`` '~')."""
    raw = operation.get(member)
    if not isinstance(raw, str):
        raise BadRequest(f"{where}: '{member}' must be a JSON Pointer string.")
    if raw == "":
        return []
    if not raw.startswith("/"):
        raise BadRequest(f"{where}: '{member}' must start with '/' (a JSON Pointer).")
    tokens = raw[1:].split("/")
    for token in tokens:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise BadRequest(f"{where}: '{raw[:80]}' has a '~' that is not ~0 or ~1.")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _show(path: list[str]) -> str:
    return ("/" + "/".join(token.replace("~", "~0").replace("/", "~1") for token in path))[:80]


def _index(container: list[Any], token: str, where: str, path: list[str], *, end_ok: bool) -> int:
    if end_ok and token == "-":
        return len(container)
    if not token.isascii() or not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise BadRequest(f"{where}: '{_show(path)}' is not a valid array index.")
    position = int(token)
    if position > len(container) - (0 if end_ok else 1):
        raise BadRequest(f"{where}: '{_show(path)}' is out of the array's bounds.")
    return position


def _parent(doc: Any, path: list[str], where: str) -> Any:
    """The container holding the target of ``path`` (which must not be the root)."""
    node = doc
    for depth, token in enumerate(path[:-1]):
        if isinstance(node, dict):
            if token not in node:
                raise BadRequest(f"{where}: '{_show(path[:depth + 1])}' does not exist.")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, where, path[:depth + 1], end_ok=False)]
        else:
            raise BadRequest(f"{where}: '{_show(path[:depth + 1])}' does not exist.")
    if not isinstance(node, dict | list):
        raise BadRequest(f"{where}: the parent of '{_show(path)}' is not an object or array.")
    return node


def _get(doc: Any, path: list[str], where: str) -> Any:
    if not path:
        return doc
    parent, token = _parent(doc, path, where), path[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise BadRequest(f"{where}: '{_show(path)}' does not exist.")
        return parent[token]
    return parent[_index(parent, token, where, path, end_ok=False)]


def _add(doc: Any, path: list[str], value: Any, where: str) -> Any:
    if not path:
        return value  # the whole document replaced
    parent, token = _parent(doc, path, where), path[-1]
    if isinstance(parent, dict):
        parent[token] = value
    else:
        parent.insert(_index(parent, token, where, path, end_ok=True), value)
    return doc


def _remove(doc: Any, path: list[str], where: str) -> tuple[Any, Any]:
    """(the document without the target, the removed value)."""
    if not path:
        raise BadRequest(f"{where}: the whole document cannot be removed.")
    parent, token = _parent(doc, path, where), path[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise BadRequest(f"{where}: '{_show(path)}' does not exist.")
        return doc, parent.pop(token)
    return doc, parent.pop(_index(parent, token, where, path, end_ok=False))


def _equal(left: Any, right: Any) -> bool:
    """RFC 6902 section 4.6 equality: JSON values, so 1 equals 1.0 but true is not 1, order of members
    does not matter and order of array items does."""
    return json.dumps(_normal(left), sort_keys=True) == json.dumps(_normal(right), sort_keys=True)


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    return value
