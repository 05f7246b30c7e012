#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/k8s without a cluster.

kubectl validates only against a live API server and kubeconform is not installed, so this
is a schema check of the subset the manifests use (Deployment, Service, ConfigMap): required
fields and their types, no unknown field in the objects that matter (a typo there is
silently ignored by Kubernetes), names that Kubernetes accepts, selectors that select the
pod template, mounts of declared volumes, Services whose selector and target port match a
pod. And the project's own rules: a pipeline Deployment runs a script of pipelines/ with
options that script accepts (from its --help), has exactly one replica and the Recreate
strategy (two pods on the same cameras would publish every result twice), and its --broker
names a Service port of the manifests.

Usage: check_manifests.py DEPLOY_DIR PIPELINES_DIR
"""

import pathlib
import re
import subprocess
import sys

import yaml

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")

KINDS = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1"}
CONTAINER_FIELDS = {"name", "image", "command", "args", "env", "ports", "resources",
                    "volumeMounts", "workingDir", "securityContext", "livenessProbe",
                    "readinessProbe", "startupProbe", "imagePullPolicy"}
POD_FIELDS = {"containers", "volumes", "terminationGracePeriodSeconds", "nodeSelector",
              "tolerations", "affinity", "securityContext", "serviceAccountName",
              "runtimeClassName", "imagePullSecrets"}
VOLUME_SOURCES = {"configMap", "secret", "persistentVolumeClaim", "emptyDir", "hostPath"}
RESOURCES = {"cpu", "memory", "nvidia.com/gpu", "ephemeral-storage"}

problems = []


def check(condition, where, message):
    if not condition:
        problems.append(f"{where}: {message}")
    return condition


def fields(obj, allowed, where):
    if check(isinstance(obj, dict), where, "must be a mapping"):
        for key in obj:
            check(key in allowed, where, f"unknown field {key!r}")


def labels(obj, where):
    if check(isinstance(obj, dict) and obj, where, "must be a non-empty mapping"):
        for key, value in obj.items():
            check(LABEL_KEY.match(str(key)), where, f"bad label key {key!r}")
            check(isinstance(value, str), where, f"label {key!r} must be a string")


def check_container(c, volumes, where):
    fields(c, CONTAINER_FIELDS, where)
    check(DNS_LABEL.match(str(c.get("name", ""))), where, "name must be a DNS label")
    check(isinstance(c.get("image"), str) and c["image"], where, "image is required")
    for key in ("command", "args"):
        if key in c:
            check(isinstance(c[key], list) and all(isinstance(a, str) for a in c[key]),
                  f"{where}.{key}", "must be a list of strings (quote numbers)")
    for e in c.get("env", []):
        check("name" in e and (("value" in e) != ("valueFrom" in e)), f"{where}.env",
              f"{e}: needs a name and exactly one of value, valueFrom")
        if "value" in e:
            check(isinstance(e["value"], str), f"{where}.env", f"{e['name']}: quote the value")
    for p in c.get("ports", []):
        check(isinstance(p.get("containerPort"), int) and 0 < p["containerPort"] < 65536,
              f"{where}.ports", f"{p}: containerPort must be a port number")
    for section, values in c.get("resources", {}).items():
        check(section in ("requests", "limits"), f"{where}.resources", f"unknown {section!r}")
        for name, value in (values or {}).items():
            check(name in RESOURCES, f"{where}.resources", f"unknown resource {name!r}")
            check(QUANTITY.match(str(value)), f"{where}.resources", f"{name}: bad {value!r}")
    for m in c.get("volumeMounts", []):
        check(m.get("name") in volumes, f"{where}.volumeMounts",
              f"{m.get('name')!r} is not a volume of the pod")
        check(str(m.get("mountPath", "")).startswith("/"), f"{where}.volumeMounts",
              "mountPath must be absolute")


def check_deployment(d, where):
    spec = d.get("spec", {})
    fields(spec, {"replicas", "strategy", "selector", "template", "revisionHistoryLimit"},
           f"{where}.spec")
    check(isinstance(spec.get("replicas", 1), int), where, "replicas must be an integer")
    selector = spec.get("selector", {}).get("matchLabels", {})
    labels(selector, f"{where}.spec.selector.matchLabels")
    template = spec.get("template", {})
    pod_labels = template.get("metadata", {}).get("labels", {})
    labels(pod_labels, f"{where}.spec.template.metadata.labels")
    check(all(pod_labels.get(k) == v for k, v in selector.items()), where,
          "the selector does not select the pod template's labels")
    pod = template.get("spec", {})
    fields(pod, POD_FIELDS, f"{where}.spec.template.spec")
    volumes = {}
    for v in pod.get("volumes", []):
        sources = VOLUME_SOURCES & set(v)
        check(len(sources) == 1, f"{where}.volumes", f"{v.get('name')}: needs one source")
        volumes[v.get("name")] = v
    containers = pod.get("containers", [])
    check(containers, where, "no containers")
    for i, c in enumerate(containers):
        check_container(c, volumes, f"{where}.containers[{i}]")
    return pod_labels, containers


def script_options(script):
    """The --options a pipelines/ script lists in its --help."""
    out = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True,
                         check=True).stdout
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out))


def check_pipeline(d, containers, pipelines, services, where):
    spec = d["spec"]
    check(spec.get("replicas") == 1, where, "a camera group must run in exactly one pod")
    check(spec.get("strategy", {}).get("type") == "Recreate", where,
          "strategy must be Recreate: a rolling update runs two pods on the same cameras")
    c = containers[0]
    script = pipelines / pathlib.Path(c["command"][0]).name
    if not check(script.is_file(), where, f"{script.name} is not a script of pipelines/"):
        return
    known = script_options(script)
    args = c.get("args", [])
    for a in args:
        if a.startswith("--"):
            check(a in known, where, f"{script.name} does not take {a}")
    if "--broker" in args:
        broker = args[args.index("--broker") + 1]
        check(broker in services, where, f"--broker {broker} is no Service port of the "
              f"manifests ({sorted(services)})")
    gpus = c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
    if "--device" in args and args[args.index("--device") + 1].startswith("cuda"):
        check(gpus, where, "--device cuda without an nvidia.com/gpu limit")


def main():
    deploy, pipelines = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    docs = []
    files = sorted(deploy.rglob("*.yaml"))
    check(files, str(deploy), "no manifests")
    for path in files:
        for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                docs.append((f"{path.relative_to(deploy)}[{i}]", doc))

    pods, services = [], {}
    for where, doc in docs:
        kind = doc.get("kind")
        if not check(kind in KINDS, where, f"kind {kind!r} is not one this check knows"):
            continue
        where = f"{where} {kind}/{doc.get('metadata', {}).get('name')}"
        check(doc.get("apiVersion") == KINDS[kind], where, f"apiVersion must be {KINDS[kind]}")
        check(DNS_LABEL.match(str(doc.get("metadata", {}).get("name", ""))), where,
              "metadata.name must be a DNS label")
        if kind == "Deployment":
            pod_labels, containers = check_deployment(doc, where)
            pods.append((pod_labels, containers))
        elif kind == "ConfigMap":
            check(all(isinstance(v, str) for v in doc.get("data", {}).values()), where,
                  "data values must be strings")
    for where, doc in docs:
        if doc.get("kind") != "Service":
            continue
        spec = doc.get("spec", {})
        selected = [(l, c) for l, c in pods
                    if all(l.get(k) == v for k, v in spec.get("selector", {}).items())]
        check(selected, where, "the selector matches no pod of the manifests")
        for p in spec.get("ports", []):
            check(isinstance(p.get("port"), int), where, f"{p}: port must be an integer")
            target = p.get("targetPort", p.get("port"))
            names = {q.get("name") for _, cs in selected for c in cs for q in c.get("ports", [])}
            numbers = {q.get("containerPort") for _, cs in selected for c in cs
                       for q in c.get("ports", [])}
            check(target in names | numbers, where, f"targetPort {target} is no container port")
            services[f"{doc['metadata']['name']}:{p.get('port')}"] = where
    for where, doc in docs:
        if doc.get("kind") == "Deployment" and doc["spec"]["template"]["spec"]["containers"][0] \
                .get("command", [""])[0].endswith(".sh"):
            check_pipeline(doc, doc["spec"]["template"]["spec"]["containers"], pipelines,
                           services, where)

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"{len(docs)} objects in {len(files)} manifests: OK")


if __name__ == "__main__":
    main()
