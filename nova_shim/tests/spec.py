"""Both sides against api/openapi.json.

``SpecValidator`` checks one request body and one response against the
operation the spec declares for (method, path). ``ValidatingClient`` is the
driver's real client with every exchange passed through the validator: the
driver's requests are checked before they are sent, the service's responses
after they arrive. A mismatch raises ``SpecViolation`` (an AssertionError, so
it fails the test instead of turning into a Nova exception).
"""

import json
import pathlib
import re
import threading

import jsonschema
import referencing
import referencing.jsonschema

from nova.virt.novadock import client as novadock_client

SPEC_PATH = pathlib.Path(__file__).resolve().parents[2] / "api" / "openapi.json"
SPEC_URI = "urn:novadock:openapi"


class SpecViolation(AssertionError):
    pass


class SpecValidator:
    def __init__(self, spec_path=SPEC_PATH):
        with open(spec_path, encoding="utf-8") as f:
            self.spec = json.load(f)
        resource = referencing.Resource.from_contents(
            self.spec, default_specification=referencing.jsonschema.DRAFT202012
        )
        self.registry = referencing.Registry().with_resource(SPEC_URI, resource)
        self._routes = []
        for template, item in self.spec["paths"].items():
            pattern = re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", template)
            self._routes.append((re.compile(f"^{pattern}$"), template, item))
        # Literal segments win over parameters, as in the service's router.
        self._routes.sort(key=lambda r: r[1].count("{"))

    # -- helpers ---------------------------------------------------------------

    def _resolve(self, node):
        """Follow a local ``$ref`` (responses, parameters) to its target."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target = self.spec
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
        return node

    def _check(self, schema, instance, what):
        validator = jsonschema.Draft202012Validator(
            schema,
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: e.path)
        if errors:
            details = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                for e in errors[:5]
            )
            raise SpecViolation(f"{what} does not match the spec: {details}\n"
                                f"body: {json.dumps(instance)[:2000]}")

    def _schema_ref(self, schema):
        """A spec schema as a standalone one whose refs resolve in the spec."""
        text = json.dumps(schema).replace('"#/', f'"{SPEC_URI}#/')
        return json.loads(text)

    def operation(self, method, path):
        path = path.split("?", 1)[0]
        for regex, template, item in self._routes:
            m = regex.match(path)
            if not m:
                continue
            op = item.get(method.lower())
            if op is None:
                raise SpecViolation(f"{method} {path}: the spec has no "
                                    f"{method} on {template}")
            params = [self._resolve(p) for p in item.get("parameters", [])]
            params += [self._resolve(p) for p in op.get("parameters", [])]
            for p in params:
                if p.get("in") == "path":
                    self._check(self._schema_ref(p["schema"]), m.group(p["name"]),
                                f"{method} {path}: path parameter {p['name']}")
            return template, op
        raise SpecViolation(f"{method} {path}: no such path in the spec")

    # -- the two checks ----------------------------------------------------------

    def validate_request(self, method, path, body):
        template, op = self.operation(method, path)
        what = f"request body of {method} {template} ({op['operationId']})"
        rb = op.get("requestBody")
        if rb is None:
            if body is not None:
                raise SpecViolation(f"{what}: the spec declares no request body")
            return op
        rb = self._resolve(rb)
        if body is None:
            if rb.get("required"):
                raise SpecViolation(f"{what}: required but not sent")
            return op
        schema = rb["content"]["application/json"]["schema"]
        self._check(self._schema_ref(schema), body, what)
        return op

    def validate_response(self, method, path, status, body_bytes,
                          content_type=None):
        """Check a response; returns the decoded body (None if empty)."""
        template, op = self.operation(method, path)
        what = f"response {status} to {method} {template} ({op['operationId']})"
        responses = op.get("responses", {})
        declared = responses.get(str(status))
        if declared is None:
            raise SpecViolation(
                f"{what}: status not declared by the spec (declared: "
                f"{', '.join(sorted(responses))}); body: {body_bytes[:500]!r}")
        declared = self._resolve(declared)
        content = declared.get("content")
        if not content:
            if body_bytes:
                raise SpecViolation(f"{what}: the spec declares no body, got "
                                    f"{body_bytes[:500]!r}")
            return None
        if content_type is not None and not content_type.startswith(
                "application/json"):
            raise SpecViolation(f"{what}: Content-Type {content_type!r}, the "
                                f"spec says application/json")
        try:
            body = json.loads(body_bytes.decode("utf-8"))
        except ValueError as e:
            raise SpecViolation(f"{what}: body is not JSON: "
                                f"{body_bytes[:500]!r}") from e
        schema = content["application/json"]["schema"]
        self._check(self._schema_ref(schema), body, what)
        return body


_VALIDATOR = None
_LOCK = threading.Lock()


def validator():
    global _VALIDATOR
    with _LOCK:
        if _VALIDATOR is None:
            _VALIDATOR = SpecValidator()
        return _VALIDATOR


class ValidatingClient(novadock_client.NovadockClient):
    """The driver's client, with both sides of every exchange checked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.validator = validator()
        self.operations = []  # (operationId, status) in call order
        self.spawned_uuids = []

    def _exchange(self, method, path, body, timeout):
        op = self.validator.validate_request(method, path, body)
        if op["operationId"] == "spawn":
            self.spawned_uuids.append(body["instance"]["uuid"])
        resp = super()._exchange(method, path, body, timeout)
        self.validator.validate_response(
            method, path, resp.status, resp.body,
            resp.headers.get("Content-Type") or resp.headers.get("content-type"))
        self.operations.append((op["operationId"], resp.status))
        return resp
