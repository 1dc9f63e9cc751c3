"""The Helm values in docs/deployment.md: valid YAML, the chart's key names and types, consistent with okta_security.

No tool here can render the official chart (no ``helm``, no chart), so the block is validated
against a fragment of the chart's ``values.schema.json`` transcribed below, and checked for
consistency (files inside mounts, objects the ``kubectl`` lines create, settings that exist).
With ``HELM_CHART_DIR`` pointing at an unpacked chart (``helm pull apache-airflow/airflow --untar``),
the block is also validated against that chart's own schema and rendered with ``helm template``.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from okta_security.airflow_layout import RECOMMENDED_AUTH_MANAGER
from okta_security.settings.specs import SPECS, SettingSpec

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "deployment.md"
MARKER = "<!-- helm-values: airflow-3 -->"

_NULLABLE_STRING = {"type": ["string", "null"]}
_NAME_VALUE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
    "required": ["name", "value"],
    "additionalProperties": False,
}
_CONTAINER_ENV = {  # apiServer.env: name + value or valueFrom (the chart's container_extra_envs)
    "type": "object",
    "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "valueFrom": {"type": "object"}},
    "required": ["name"],
    "anyOf": [{"required": ["value"]}, {"required": ["valueFrom"]}],
    "additionalProperties": False,
}
_VOLUME = {  # io.k8s.api.core.v1.Volume, the parts used here
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "secret": {
            "type": "object",
            "properties": {"secretName": {"type": "string"}, "defaultMode": {"type": "integer"}},
            "additionalProperties": False,
        },
        "configMap": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "defaultMode": {"type": "integer"}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
_VOLUME_MOUNT = {  # io.k8s.api.core.v1.VolumeMount
    "type": "object",
    "required": ["name", "mountPath"],
    "properties": {
        "name": {"type": "string"},
        "mountPath": {"type": "string"},
        "readOnly": {"type": "boolean"},
        "subPath": {"type": "string"},
    },
    "additionalProperties": False,
}
_INGRESS_HOST = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "tls": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}, "secretName": {"type": "string"}},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
# A fragment of apache-airflow/airflow's values.schema.json (chart 1.18 era), transcribed by hand:
# only the keys the documented values use, with the chart's types and its additionalProperties;
# names under apiServer and ingress.apiServer as the chart's api-server deployment and ingress
# templates read them.
CHART_SCHEMA_FRAGMENT = {
    "$schema": "http://json-schema.org/draft-07/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "airflowVersion": {"type": "string"},
        "images": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "airflow": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "repository": _NULLABLE_STRING,
                        "tag": _NULLABLE_STRING,
                        "digest": _NULLABLE_STRING,
                        "pullPolicy": {"type": "string", "enum": ["Always", "Never", "IfNotPresent"]},
                    },
                }
            },
        },
        "env": {"type": "array", "items": _NAME_VALUE},
        "volumes": {"type": "array", "items": _VOLUME},
        "volumeMounts": {"type": "array", "items": _VOLUME_MOUNT},
        "extraEnv": {"type": ["null", "string"]},
        "config": {"type": "object", "additionalProperties": {"type": "object"}},
        "apiSecretKeySecretName": _NULLABLE_STRING,
        "jwtSecretName": _NULLABLE_STRING,
        "apiServer": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "replicas": {"type": "integer"},
                "apiServerConfig": _NULLABLE_STRING,
                "apiServerConfigConfigMapName": _NULLABLE_STRING,
                "env": {"type": "array", "items": _CONTAINER_ENV},
                "extraVolumes": {"type": "array", "items": _VOLUME},
                "extraVolumeMounts": {"type": "array", "items": _VOLUME_MOUNT},
            },
        },
        "ingress": {
            "type": "object",
            "properties": {
                "apiServer": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                        "path": {"type": "string"},
                        "pathType": {"type": "string"},
                        "hosts": {"type": "array", "items": _INGRESS_HOST},
                        "ingressClassName": {"type": "string"},
                    },
                }
            },
        },
    },
}


def documented_values() -> dict:
    """Return the YAML block that follows the marker in docs/deployment.md."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC.name} lost its {MARKER} block"
    block = re.match(r"\s*```yaml\n(.*?)```", text.split(MARKER, 1)[1], flags=re.DOTALL)
    assert block, f"no ```yaml block right after {MARKER}"
    return yaml.safe_load(block.group(1))


def kubectl_objects() -> dict[tuple[str, str], set[str]]:
    """Return (kind, name) -> keys of the ConfigMaps and Secrets the doc's ``kubectl create`` lines make."""
    made: dict[tuple[str, str], set[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("kubectl create "):
            continue
        argv = shlex.split(line)
        kind, name = ("secret", argv[4]) if argv[2] == "secret" else ("configmap", argv[3])
        keys = set()
        for arg in argv:
            for flag in ("--from-file=", "--from-literal="):
                if arg.startswith(flag):
                    spec = arg[len(flag) :]
                    key = spec.split("=", 1)[0] if "=" in spec else PurePosixPath(spec).name
                    keys.add(key)
        made[(kind, name)] = keys
    return made


def spec_of(name: str) -> SettingSpec:
    """Return the setting an ``OKTA_*`` variable gives (``OKTA_X`` or its ``OKTA_X_FILE`` form)."""
    spec = SPECS.get(name) or SPECS.get(name.removesuffix("_FILE"))
    assert spec is not None, f"{name} is not an okta_security setting"
    return spec


@pytest.fixture(scope="module")
def values() -> dict:
    return documented_values()


def test_the_values_match_the_charts_key_names_and_types(values):
    jsonschema.validate(values, CHART_SCHEMA_FRAGMENT)


def test_the_fragment_rejects_a_misspelt_key(values):
    """Guard: the fragment would catch a typo (it is not a schema that accepts anything)."""
    wrong = {**values, "apiServer": {**values["apiServer"], "replica": 2}}
    with pytest.raises(jsonschema.ValidationError, match="replica"):
        jsonschema.validate(wrong, CHART_SCHEMA_FRAGMENT)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**values, "apiSecretKeySecret": "x"}, CHART_SCHEMA_FRAGMENT)


def test_the_auth_manager_is_the_recommended_one_and_imports(values):
    assert values["config"]["core"]["auth_manager"] == RECOMMENDED_AUTH_MANAGER
    module, _, name = RECOMMENDED_AUTH_MANAGER.rpartition(".")
    assert hasattr(importlib.import_module(module), name)


def test_every_okta_variable_is_a_setting_and_no_secret_is_inline(values):
    env = {item["name"]: item.get("value") for item in values["apiServer"]["env"]}
    okta = [name for name in env if name.startswith("OKTA_")]
    assert okta, "the values set no OKTA_* variable"
    for name in okta:
        if spec_of(name).secret:
            assert name == spec_of(name).file_name, f"{name}: a secret belongs in a mounted file, not in the values"


def test_every_file_lies_in_a_mounted_directory_of_an_object_the_doc_creates(values):
    api = values["apiServer"]
    volumes = {v["name"]: v for v in api["extraVolumes"]}
    mounts = {m["name"]: m for m in api["extraVolumeMounts"]}
    assert set(volumes) == set(mounts), "every extra volume is mounted, every mount has a volume"
    for mount in mounts.values():
        assert "subPath" not in mount, f"{mount['name']}: the kubelet never updates a subPath mount"
        assert mount.get("readOnly") is True
    made = kubectl_objects()
    env = {item["name"]: item["value"] for item in api["env"] if "value" in item}
    files = {name: value for name, value in env.items() if name.endswith("_FILE")}
    assert files
    for name, path in files.items():
        path = PurePosixPath(path)
        [mount] = [m for m in mounts.values() if path.parent == PurePosixPath(m["mountPath"])]
        volume = volumes[mount["name"]]
        kind, source = (
            ("secret", volume["secret"]["secretName"])
            if "secret" in volume
            else (
                "configmap",
                volume["configMap"]["name"],
            )
        )
        assert (kind, source) in made, f"{name}: no `kubectl create {kind} {source}` line in {DOC.name}"
        assert path.name in made[(kind, source)], f"{name}: {kind} {source} has no key {path.name}"
        if spec_of(name).secret:
            assert kind == "secret", f"{name} is a secret but is mounted from a ConfigMap"
    assert ("configmap", api["apiServerConfigConfigMapName"]) in made
    assert "webserver_config.py" in made[("configmap", api["apiServerConfigConfigMapName"])]


def test_replicas_share_the_flask_key_and_the_jwt_secret(values):
    assert values["apiServer"]["replicas"] >= 2
    made = kubectl_objects()
    assert "api-secret-key" in made[("secret", values["apiSecretKeySecretName"])]  # the chart reads this key
    assert "jwt-secret" in made[("secret", values["jwtSecretName"])]


def test_the_public_url_the_ingress_and_proxy_fix_agree(values):
    base = urlsplit(values["config"]["api"]["base_url"])
    assert base.scheme == "https"
    assert values["config"]["fab"]["enable_proxy_fix"] == "True"  # TLS ends at the ingress
    ingress = values["ingress"]["apiServer"]
    assert ingress["enabled"] is True
    assert base.path.rstrip("/") == ingress["path"]
    assert base.hostname in {h["name"] for h in ingress["hosts"]}
    assert f"{base.scheme}://{base.hostname}{base.path}auth/okta/events" in DOC.read_text(encoding="utf-8")


# -- against the real chart, where one is at hand ------------------------------------------------------


def _chart_dir() -> Path:
    chart = os.environ.get("HELM_CHART_DIR")
    if not chart:
        pytest.skip(
            "HELM_CHART_DIR is not set: the official chart cannot be downloaded here "
            "(helm pull apache-airflow/airflow --untar, then HELM_CHART_DIR=./airflow)"
        )
    path = Path(chart)
    assert (path / "values.schema.json").is_file(), f"{path} is not an unpacked apache-airflow/airflow chart"
    return path


def test_the_values_validate_against_the_charts_own_schema(values):
    import json

    schema = json.loads((_chart_dir() / "values.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(values, schema)


def test_helm_renders_the_values(values, tmp_path):
    chart = _chart_dir()
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip("helm is not on the PATH")
    values_file = tmp_path / "values-okta.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = subprocess.run(
        [helm, "template", "airflow", str(chart), "-f", str(values_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rendered = result.stdout
    assert "okta-mapping" in rendered
    assert "OKTA_CLIENT_SECRET_FILE" in rendered
