"""Kubernetes objects against their published schemas, offline: the API's JSON schemas that
kubernetes-validate bundles (strict: an unknown field is an error), and for the Prometheus
Operator's ServiceMonitor and PrometheusRule the models cloudcoil generates from its CRDs."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
from cloudcoil.models.prometheus_operator import v1 as operator
from pydantic import BaseModel

from .files import KUBERNETES_VERSIONS, OPERATOR_KINDS

_OPERATOR_MODELS: dict[str, type[BaseModel]] = {
    "ServiceMonitor": operator.ServiceMonitor,
    "PrometheusRule": operator.PrometheusRule,
}


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """What the schemas of every version in ``KUBERNETES_VERSIONS`` say against ``obj``."""
    if obj["kind"] in OPERATOR_KINDS:
        return _operator_errors(obj)
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(part) for part in error.path)
            errors.append(f"{version} {obj['kind']} at {where}: {error.message}")
    return errors


def _operator_errors(obj: dict[str, Any]) -> list[str]:
    """The CRD's types, patterns and enums through the model; unknown fields, which the model
    would drop silently, as what the round trip loses."""
    model = _OPERATOR_MODELS[obj["kind"]]
    try:
        parsed = model.model_validate(obj)
    except ValueError as error:
        return [f"{obj['kind']}: {error}"]
    kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [f"{obj['kind']}: not in the CRD: {path}" for path in _lost(obj, kept)]


def _lost(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [path or "/"]
        return [
            lost
            for key, value in given.items()
            for lost in (
                _lost(value, kept[key], f"{path}/{key}") if key in kept else [f"{path}/{key}"]
            )
        ]
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return [path]
        return [
            lost for i, item in enumerate(given) for lost in _lost(item, kept[i], f"{path}/{i}")
        ]
    return []
