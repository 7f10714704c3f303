"""Structural tests of the Terraform configuration, offline.

No terraform binary is available (see ../README.md), so these tests parse
every .tf file with python-hcl2 and check what a reviewer would: variables
are documented and typed, module calls (the root module's and the complete
example's) pass every required variable and nothing undeclared, the relay
security group opens exactly the ports the README documents, no IAM
statement grants a wildcard action and each role reads exactly its own
secret parameters, no secret value is ever a Terraform input or part of the
relays' user data, and the cloud-init template renders (with a small
implementation of the templatefile() features it uses) into a systemd unit
for the relay, a NATS cluster config listing the peers, a relay config that
trunks to the edge, and a start-up script (run here against stand-ins for
`aws` and `curl`) that writes the secrets where only root and the relay
can read them.

Run: python -m unittest discover -s terraform/tests  (cargo xtask test does,
in a venv under ~/.cache/edgecall with the pinned python-hcl2).
"""

import copy
import functools
import os
import pathlib
import re
import stat
import subprocess
import tempfile
import tomllib
import unittest

import hcl2
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELAY = ROOT / "modules" / "relay"
RELAY_CONFIG_RS = ROOT.parent / "native-relay" / "src" / "config.rs"
DIRECTORY = ROOT / "modules" / "directory"
DIRECTORY_BIN_RS = ROOT.parent / "native-relay" / "src" / "bin" / "edgecall-directory.rs"
SECRETS_RS = ROOT.parent / "native-relay" / "src" / "secrets.rs"
EXAMPLE = ROOT / "examples" / "complete"
MODULES = (ROOT, RELAY, DIRECTORY, EXAMPLE)


def unquote(value):
    """python-hcl2 keeps string literals quoted ("\"udp\""); strip that."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@functools.lru_cache(maxsize=None)
def _parse(path):
    with open(path, encoding="utf-8") as f:
        return hcl2.load(f)


def load(path):
    """A file parsed by python-hcl2 (once per run: parsing is the slow part),
    as a copy the caller may change."""
    return copy.deepcopy(_parse(str(path)))


def tf_files():
    return sorted(p for p in ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def module_blocks(module_dir, kind):
    """{(type, name): body} for `resource`/`data` blocks, or {name: body}
    for `variable`/`output` blocks, across a module's .tf files."""
    found = {}
    for path in sorted(module_dir.glob("*.tf")):
        for entry in load(path).get(kind, []):
            for key, body in entry.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        found[(unquote(key), unquote(name))] = inner
                else:
                    found[unquote(key)] = body
    return found


def module_locals(module_dir):
    merged = {}
    for path in sorted(module_dir.glob("*.tf")):
        for entry in load(path).get("locals", []):
            merged.update(entry)
    return merged


def resolve(value, local_values):
    """Literal value of an attribute that is a literal or `${local.x}`."""
    value = unquote(value)
    match = re.fullmatch(r"\$\{local\.(\w+)\}", str(value))
    if match:
        return resolve(local_values[match.group(1)], local_values)
    return value


def module_calls(module_dir):
    """{name: body} of the `module` blocks across a module's .tf files."""
    calls = {}
    for path in sorted(module_dir.glob("*.tf")):
        for entry in load(path).get("module", []):
            for name, body in entry.items():
                calls[unquote(name)] = body
    return calls


def call_arguments(body):
    return {k for k in body if k not in ("source", "__is_block__", "__comments__", "__inline_comments__")}


def policy_documents(module_dir):
    return {
        name: body
        for (kind, name), body in module_blocks(module_dir, "data").items()
        if kind == "aws_iam_policy_document"
    }


def policy_statements(policy_document):
    """{sid: statement} of a policy document, static and dynamic statements.
    A dynamic statement gets `for_each` (its condition) and, for resources
    written `[statement.value]`, the resource its `for_each` yields:
    `cond ? [] : [X]` or `cond ? [X] : []` gives X, and a list of one
    list, `cond ? [L] : []`, gives L itself."""
    found = {}
    for statement in policy_document.get("statement", []):
        found[unquote(statement.get("sid", '""'))] = dict(statement)
    for dynamic in policy_document.get("dynamic", []):
        for name, body in dynamic.items():
            if unquote(name) != "statement":
                continue
            for_each = body["for_each"]
            match = re.fullmatch(r"\$\{(.*) \? (?:\[\]|\[(.*)\]) : (?:\[\]|\[(.*)\])\}", for_each)
            assert match, "unexpected for_each " + for_each
            value = match.group(2) or match.group(3)
            for content in body.get("content", []):
                statement = dict(content)
                statement["for_each"] = for_each
                if statement.get("resources") == ["${statement.value}"]:
                    statement["resources"] = "${" + value + "}"
                elif statement.get("resources") == "${statement.value}":
                    statement["resources"] = "${" + value + "}"
                found[unquote(statement["sid"])] = statement
    return found


def iam_actions(policy_document):
    """Every action of a policy document, static and dynamic statements."""
    return [unquote(a) for s in policy_statements(policy_document).values() for a in s.get("actions", [])]


def parameter_variables(expression):
    """The `var.<name>` references in an expression, in order."""
    return re.findall(r"var\.(\w+)", expression)


def compact_list_variables(expression):
    """The variables a `compact([...])` of parameter names lists: each item
    must be `var.x` or `var.tls_mode == "certificate" ? var.x : ""`, so no
    literal parameter name (or anything else) can slip in."""
    match = re.fullmatch(r"\$\{compact\(\[(.*)\]\)\}", expression)
    assert match, "not a compact([...]) list: " + expression
    names = []
    for item in match.group(1).split(", "):
        found = re.fullmatch(r'var\.(\w+)|var\.tls_mode == "certificate" \? var\.(\w+) : ""', item)
        assert found, "unexpected item in the parameter list: " + item
        names.append(found.group(1) or found.group(2))
    return names


def templatefile_arguments():
    """{name: expression} of the relay module's templatefile() call, from
    the source (one argument per line)."""
    main = (RELAY / "main.tf").read_text(encoding="utf-8")
    call = main[main.index("templatefile(") :]
    call = call[: call.index("})")]
    return dict(re.findall(r"^\s+(\w+)\s+=\s+(.+)$", call, re.M))


def render_template(text, variables):
    """The subset of Terraform's templatefile() the template uses:
    `${name}` interpolation, `%{ for x in list ~}`…`%{ endfor ~}` loops and
    `$${` escapes. Anything else is an error, so the template cannot drift
    into features this renderer (and the test) silently mishandles."""
    loop = re.compile(r"%\{ for (\w+) in (\w+) ~\}\n(.*?)%\{ endfor ~\}\n", re.S)

    def expand_loop(match):
        var, seq, body = match.groups()
        return "".join(body.replace("${" + var + "}", str(item)) for item in variables[seq])

    text = loop.sub(expand_loop, text)
    if "%{" in text:
        raise ValueError("unsupported template directive: " + text[text.index("%{"):][:40])

    def interpolate(match):
        if match.group(0).startswith("$$"):
            return match.group(0)[1:]
        name = match.group(1)
        if not re.fullmatch(r"\w+", name):
            raise ValueError("unsupported template expression ${%s}" % name)
        if name not in variables:
            raise KeyError("template variable %s is not passed by templatefile()" % name)
        return str(variables[name])

    return re.sub(r"\$?\$\{([^}]*)\}", interpolate, text)


class EveryTfFile(unittest.TestCase):
    def test_every_tf_file_parses(self):
        files = tf_files()
        self.assertGreaterEqual(len(files), 13)
        for path in files:
            with self.subTest(path=str(path.relative_to(ROOT))):
                load(path)

    def test_every_variable_has_a_description_and_a_type(self):
        for module in MODULES:
            for name, body in module_blocks(module, "variable").items():
                with self.subTest(module=module.name, variable=name):
                    self.assertTrue(unquote(body.get("description", "")).strip(), "no description")
                    self.assertIn("type", body, "no type")

    def test_every_output_has_a_description(self):
        for module in MODULES:
            for name, body in module_blocks(module, "output").items():
                with self.subTest(module=module.name, output=name):
                    self.assertTrue(unquote(body.get("description", "")).strip())

    def test_module_calls_pass_only_declared_variables_and_every_required_one(self):
        calls = [
            ("root → relay", module_calls(ROOT)["relay"], RELAY),
            ("root → directory", module_calls(ROOT)["directory"], DIRECTORY),
            ("example → root", module_calls(EXAMPLE)["edgecall"], ROOT),
        ]
        for name, body, module_dir in calls:
            declared = module_blocks(module_dir, "variable")
            passed = call_arguments(body)
            with self.subTest(call=name):
                self.assertEqual(passed - set(declared), set(), "unknown module arguments")
                required = {v for v, body in declared.items() if "default" not in body}
                self.assertEqual(required - passed, set(), "required variables not passed")

    def test_only_the_example_configures_a_provider(self):
        for module in (ROOT, RELAY, DIRECTORY):
            for path in module.glob("*.tf"):
                with self.subTest(path=str(path.relative_to(ROOT))):
                    self.assertNotIn("provider", load(path))
        self.assertIn("provider", load(EXAMPLE / "main.tf"))
        self.assertEqual(unquote(module_calls(EXAMPLE)["edgecall"]["source"]), "../..")


class Examples(unittest.TestCase):
    def test_the_example_sets_every_module_variable(self):
        passed = call_arguments(module_calls(EXAMPLE)["edgecall"])
        self.assertEqual(passed, set(module_blocks(ROOT, "variable")))
        for name in passed:
            with self.subTest(variable=name):
                self.assertEqual(module_calls(EXAMPLE)["edgecall"][name], "${var.%s}" % name)

    def test_example_tfvars_set_only_declared_variables_and_every_required_one(self):
        declared = module_blocks(EXAMPLE, "variable")
        required = {name for name, body in declared.items() if "default" not in body}
        examples = sorted(EXAMPLE.glob("*.tfvars"))
        self.assertGreaterEqual(len(examples), 2)
        for path in examples:
            values = {k for k in load(path) if not k.startswith("__")}
            with self.subTest(example=path.name):
                self.assertEqual(set(values) - set(declared), set(), "undeclared variables")
                self.assertEqual(required - set(values), set(), "required variables missing")

    def test_the_examples_cover_both_tls_modes(self):
        modes = {unquote(load(path)["tls_mode"]) for path in EXAMPLE.glob("*.tfvars")}
        self.assertEqual(modes, {"self-signed", "certificate"})
        certificate = load(EXAMPLE / "certificate.tfvars")
        for name in ("tls_certificate_parameter", "tls_private_key_parameter", "relay_hostnames"):
            self.assertIn(name, certificate)


class NoSecretValues(unittest.TestCase):
    """Terraform only names the secrets (SSM parameters); the relays read
    them at start with their instance role."""

    def test_no_variable_takes_a_secret_value(self):
        for module in MODULES:
            for name, body in module_blocks(module, "variable").items():
                with self.subTest(module=module.name, variable=name):
                    self.assertNotIn("sensitive", body, "secrets are SSM parameters: take the parameter's name")
                    if re.search(r"token_secret|trunk_secret|api_key|private_key|password", name):
                        self.assertTrue(name.endswith("_parameter"), "a secret's variable names its SSM parameter")

    def test_no_module_creates_a_secret(self):
        for module in MODULES:
            for kind, name in module_blocks(module, "resource"):
                with self.subTest(module=module.name, resource=f"{kind}.{name}"):
                    self.assertNotIn(kind, ("aws_ssm_parameter", "aws_secretsmanager_secret_version"))

    def test_the_relays_never_read_a_secret_value_through_terraform(self):
        kinds = {kind for kind, _ in module_blocks(RELAY, "data")}
        self.assertNotIn("aws_ssm_parameter", kinds)
        self.assertNotIn("aws_secretsmanager_secret_version", kinds)

    def test_the_user_data_gets_parameter_names_only(self):
        arguments = templatefile_arguments()
        self.assertEqual(set(arguments), set(CloudInit.SAMPLE))
        secretish = {name for name in arguments if re.search(r"secret|private_key|certificate", name)}
        self.assertEqual(
            secretish,
            {"token_secret_parameter", "trunk_secret_parameter", "tls_certificate_parameter", "tls_private_key_parameter"},
        )
        for name, expression in arguments.items():
            with self.subTest(argument=name):
                self.assertNotIn("data.aws_ssm", expression)
                self.assertNotIn(".value", expression.replace("statement.value", ""))
                if name in secretish:
                    self.assertEqual(parameter_variables(expression)[-1], name)

    def test_the_rendered_user_data_holds_no_secret(self):
        text = CloudInit().render()
        self.assertIn("token_secret=$(secret '/edgecall/join-token-secret')", text)
        self.assertIn("trunk_secret=$(secret '/edgecall/trunk-secret')", text)
        self.assertIn('echo "EDGECALL_TOKEN_SECRET=$token_secret"', text)
        self.assertIn('echo "EDGECALL_RELAY_TRUNK_SECRET=$trunk_secret"', text)
        # Every EDGECALL_*SECRET assignment takes a shell variable, never a literal.
        for line in re.findall(r"EDGECALL_\w*SECRET\w*=.*", text):
            with self.subTest(line=line):
                self.assertRegex(line, r"=\$\w+\"$")
        data = yaml.safe_load(text)
        relay_toml = next(f["content"] for f in data["write_files"] if f["path"] == "/etc/edgecall/relay.toml")
        config = tomllib.loads(relay_toml)
        self.assertNotIn("token-secret", config)
        self.assertNotIn("trunk-secret", config)


class RelaySecurityGroup(unittest.TestCase):
    """The documented ports (terraform/README.md, "Network") and nothing else."""

    PUBLIC = {("udp", 443), ("tcp", 443)}
    INTERNAL = {("tcp", 6222)}
    EGRESS_PUBLIC = {("tcp", 443), ("tcp", 80)}

    def setUp(self):
        self.resources = module_blocks(RELAY, "resource")
        self.local_values = module_locals(RELAY)

    def rules(self, kind):
        for (found, name), body in self.resources.items():
            if found == kind:
                protocol = resolve(body["ip_protocol"], self.local_values)
                start = int(resolve(body["from_port"], self.local_values))
                end = int(resolve(body["to_port"], self.local_values))
                self.assertEqual(start, end, f"{name} opens a port range")
                yield name, (protocol, start), body

    def ingress(self):
        return self.rules("aws_vpc_security_group_ingress_rule")

    def egress(self):
        return self.rules("aws_vpc_security_group_egress_rule")

    def test_the_group_has_no_inline_rules(self):
        group = self.resources[("aws_security_group", "relay")]
        self.assertNotIn("ingress", group)
        self.assertNotIn("egress", group)

    def test_only_udp_and_tcp_443_are_open_to_the_internet(self):
        public = {port for _, port, body in self.ingress() if "cidr_ipv4" in body or "cidr_ipv6" in body}
        self.assertEqual(public, self.PUBLIC)

    def test_nats_routes_are_open_only_inside_the_group(self):
        for direction in (self.ingress, self.egress):
            internal = {}
            for name, port, body in direction():
                if "referenced_security_group_id" in body:
                    internal[port] = unquote(body["referenced_security_group_id"])
            with self.subTest(direction=direction.__name__):
                self.assertEqual(set(internal), self.INTERNAL)
                for ref in internal.values():
                    self.assertEqual(ref, "${aws_security_group.relay.id}")

    def test_every_rule_is_either_public_or_group_internal(self):
        ports = [port for _, port, _ in self.ingress()]
        self.assertEqual(sorted(ports), sorted(self.PUBLIC | self.INTERNAL))

    def test_egress_is_https_http_and_nats_routes_only(self):
        ports = sorted(port for _, port, _ in self.egress())
        self.assertEqual(ports, sorted(self.EGRESS_PUBLIC | self.INTERNAL))

    def test_the_readme_documents_the_same_ports(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        for protocol, port in self.PUBLIC | self.INTERNAL | self.EGRESS_PUBLIC:
            self.assertRegex(readme, rf"(?i){protocol}\W+{port}")


class LeastPrivilege(unittest.TestCase):
    ARN = "arn:${data.aws_partition.current.partition}:ssm:${%s}:${data.aws_caller_identity.current.account_id}:parameter${name}"

    def test_no_iam_statement_grants_a_wildcard_action(self):
        for module_dir in (RELAY, DIRECTORY):
            for name, document in policy_documents(module_dir).items():
                for action in iam_actions(document):
                    with self.subTest(module=module_dir.name, policy=name, action=action):
                        self.assertNotIn("*", action)

    def test_no_statement_names_every_resource(self):
        for module_dir in (RELAY, DIRECTORY):
            for name, document in policy_documents(module_dir).items():
                for sid, statement in policy_statements(document).items():
                    with self.subTest(module=module_dir.name, statement=sid):
                        self.assertNotIn('"*"', str(statement.get("resources", "")))

    def test_the_directory_only_scans_the_registry_writes_its_logs_and_reads_its_secrets(self):
        actions = iam_actions(policy_documents(DIRECTORY)["directory"])
        self.assertEqual(
            sorted(actions),
            ["dynamodb:Scan", "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents", "ssm:GetParameter"],
        )

    def test_the_relay_role_can_only_publish_read_its_secrets_and_fetch_its_binary(self):
        actions = iam_actions(policy_documents(RELAY)["relay"])
        self.assertEqual(sorted(actions), ["dynamodb:PutItem", "kms:Decrypt", "s3:GetObject", "ssm:GetParameter"])

    def secret_statements(self, module_dir, policy, region):
        """The parameter list a role may read, after checking that both the
        SSM and the KMS statement are scoped to exactly it."""
        statements = policy_statements(policy_documents(module_dir)[policy])
        read = statements["ReadOwnSecrets"]
        self.assertEqual(read["resources"], "${local.secret_parameter_arns}")
        decrypt = statements["DecryptOwnSecrets"]
        self.assertEqual(decrypt["resources"], "${var.kms_key_arn}")
        conditions = {unquote(c["variable"]): c for c in decrypt["condition"]}
        self.assertEqual(set(conditions), {"kms:ViaService", "kms:EncryptionContext:PARAMETER_ARN"})
        for condition in conditions.values():
            self.assertEqual(unquote(condition["test"]), "StringEquals")
        self.assertEqual([unquote(v) for v in conditions["kms:ViaService"]["values"]], [f"ssm.${{{region}}}.amazonaws.com"])
        self.assertEqual(conditions["kms:EncryptionContext:PARAMETER_ARN"]["values"], "${local.secret_parameter_arns}")
        local_values = module_locals(module_dir)
        arns = local_values["secret_parameter_arns"]
        self.assertEqual(arns, "${[for name in local.secret_parameters : \"%s\"]}" % (self.ARN % region))
        return compact_list_variables(local_values["secret_parameters"]), statements

    def test_the_relays_read_exactly_the_parameters_their_user_data_names(self):
        parameters, statements = self.secret_statements(RELAY, "relay", "local.region")
        self.assertEqual(
            parameters,
            ["token_secret_parameter", "trunk_secret_parameter", "tls_certificate_parameter", "tls_private_key_parameter"],
        )
        arguments = templatefile_arguments()
        named = {parameter_variables(arguments[name])[-1] for name in arguments if name.endswith("_parameter")}
        self.assertEqual(named, set(parameters))
        self.assertNotIn("for_each", statements["ReadOwnSecrets"], "the relays always read their secrets")

    def test_the_directory_reads_its_parameters_only_when_it_fetches_them_itself(self):
        parameters, statements = self.secret_statements(DIRECTORY, "directory", "data.aws_region.current.name")
        self.assertEqual(parameters, ["token_secret_parameter", "api_key_parameter"])
        self.assertIn("local.parameter_store ?", statements["ReadOwnSecrets"]["for_each"])
        self.assertIn("local.parameter_store &&", statements["DecryptOwnSecrets"]["for_each"])

    def test_the_directory_logs_have_a_retention(self):
        resources = module_blocks(DIRECTORY, "resource")
        group = resources[("aws_cloudwatch_log_group", "directory")]
        self.assertEqual(unquote(group["retention_in_days"]), "${var.log_retention_days}")
        self.assertIn(("aws_lambda_function_url", "directory"), resources)


class DirectoryEnvironment(unittest.TestCase):
    """The directory Lambda's environment against what edgecall-directory reads."""

    SECRETS = {"EDGECALL_TOKEN_SECRET", "EDGECALL_DIRECTORY_API_KEY"}

    def read_by_the_binary(self):
        """The variables edgecall-directory reads: the names it spells out,
        and for each secret it reads through edgecall_relay::secrets
        (`secrets.read("NAME")`) also NAME + PARAMETER_SUFFIX, the variable
        naming the SSM parameter that holds it."""
        source = DIRECTORY_BIN_RS.read_text(encoding="utf-8")
        suffix = re.search(r'pub const PARAMETER_SUFFIX: &str = "(\w+)";', SECRETS_RS.read_text(encoding="utf-8"))
        self.assertIsNotNone(suffix, "secrets.rs declares PARAMETER_SUFFIX")
        secrets = set(re.findall(r'secrets\.read\("(EDGECALL_\w+)"\)', source))
        self.assertEqual(secrets, self.SECRETS, "both secrets are read through edgecall_relay::secrets")
        return set(re.findall(r'"(EDGECALL_\w+)"', source)) | {name + suffix.group(1) for name in secrets} | {"RUST_LOG"}

    def environments(self):
        local_values = module_locals(DIRECTORY)
        lambda_function = module_blocks(DIRECTORY, "resource")[("aws_lambda_function", "directory")]
        variables = lambda_function["environment"][0]["variables"]
        self.assertRegex(variables, r"local\.secret_environment")
        common = set(re.findall(r"(EDGECALL_\w+|RUST_LOG)\s*=", variables))
        self.assertEqual(
            local_values["chosen_environment"],
            "${local.parameter_store ? local.parameter_environment : local.value_environment}",
        )
        return {
            "environment": common | {k for k in local_values["value_environment"] if not k.startswith("__")},
            "parameter-store": common | {k for k in local_values["parameter_environment"] if not k.startswith("__")},
        }, local_values

    def test_the_environment_mode_sets_only_what_edgecall_directory_reads(self):
        environments, _ = self.environments()
        self.assertEqual(environments["environment"] - self.read_by_the_binary(), set())
        self.assertIn("EDGECALL_TOKEN_SECRET", environments["environment"])

    def test_the_parameter_store_mode_sets_names_never_values(self):
        environments, local_values = self.environments()
        names = environments["parameter-store"]
        self.assertNotIn("EDGECALL_TOKEN_SECRET", names)
        self.assertNotIn("EDGECALL_DIRECTORY_API_KEY", names)
        for value in local_values["parameter_environment"].values():
            if isinstance(value, str):
                self.assertRegex(value, r"^\$\{var\.\w+_parameter\}$")
        self.assertLessEqual({"EDGECALL_TOKEN_SECRET_PARAMETER", "EDGECALL_DIRECTORY_API_KEY_PARAMETER"}, names)
        self.assertEqual(names - self.read_by_the_binary(), set())

    def test_parameter_store_is_the_default_and_environment_stays_available(self):
        # The binary reads the parameters itself, so by default no secret
        # value passes through Terraform (or its state).
        for module, name in ((ROOT, "directory_secret_source"), (EXAMPLE, "directory_secret_source"), (DIRECTORY, "secret_source")):
            with self.subTest(module=module.name):
                variable = module_blocks(module, "variable")[name]
                self.assertEqual(unquote(variable["default"]), "parameter-store")
        for module, name in ((ROOT, "directory_secret_source"), (DIRECTORY, "secret_source")):
            with self.subTest(module=module.name):
                condition = module_blocks(module, "variable")[name]["validation"][0]["condition"]
                self.assertIn('"environment"', condition)
                self.assertIn('"parameter-store"', condition)

    def test_terraform_reads_the_values_only_in_the_environment_mode(self):
        data = module_blocks(DIRECTORY, "data")
        for name in ("token_secret", "api_key"):
            with self.subTest(parameter=name):
                self.assertRegex(data[("aws_ssm_parameter", name)]["count"], r"^\$\{!?local\.parameter_store")
        self.assertIn("local.parameter_store ? 0 : 1", data[("aws_ssm_parameter", "token_secret")]["count"])


class CloudInit(unittest.TestCase):
    SAMPLE = {
        "relay_binary_url": "https://releases.example.com/edgecall-relay-aarch64",
        "relay_binary_sha256": "ab" * 32,
        "registry_table": "edgecall-relays",
        "region": "eu-west-1",
        "relay_port": 443,
        "nats_client_port": 4222,
        "nats_route_port": 6222,
        "cluster_name": "edgecall",
        "private_ip": "10.0.1.10",
        "nats_peers": ["10.0.1.11", "10.0.1.12"],
        "edge_url": "https://meet.example.com",
        "token_secret_parameter": "/edgecall/join-token-secret",
        "trunk_secret_parameter": "/edgecall/trunk-secret",
        "tls_certificate_parameter": "",
        "tls_private_key_parameter": "",
        "tls_cert_file": "/run/edgecall/tls/fullchain.pem",
        "tls_key_file": "/run/edgecall/tls/privkey.pem",
        "public_host": "",
        "tls_cert_line": "# self-signed certificate: rotated every 6 days,",
        "tls_key_line": "# its SHA-256 published to the directory",
    }

    CERTIFICATE_MODE = {
        "public_host": "relay-0.example.com",
        "tls_certificate_parameter": "/edgecall/tls/fullchain.pem",
        "tls_private_key_parameter": "/edgecall/tls/privkey.pem",
        "tls_cert_line": 'cert = "/run/edgecall/tls/fullchain.pem"',
        "tls_key_line": 'key = "/run/edgecall/tls/privkey.pem"',
    }

    def render(self, **overrides):
        template = (RELAY / "cloud-init.yaml.tftpl").read_text(encoding="utf-8")
        return render_template(template, {**self.SAMPLE, **overrides})

    def written_file(self, path, **overrides):
        data = yaml.safe_load(self.render(**overrides))
        return next(f for f in data["write_files"] if f["path"] == path)

    def test_templatefile_gets_exactly_the_variables_the_template_uses(self):
        self.assertEqual(set(templatefile_arguments()), set(self.SAMPLE))
        template = (RELAY / "cloud-init.yaml.tftpl").read_text(encoding="utf-8")
        used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", template)) | set(re.findall(r"%\{ for \w+ in (\w+) ~\}", template))
        loop_variables = set(re.findall(r"%\{ for (\w+) in", template))
        self.assertEqual(used - loop_variables, set(self.SAMPLE))

    def test_the_certificate_paths_are_the_ones_the_start_up_script_writes(self):
        arguments = templatefile_arguments()
        self.assertEqual(arguments["tls_cert_file"], "local.tls_cert_file")
        self.assertEqual(arguments["tls_key_file"], "local.tls_key_file")
        self.assertIn("local.tls_cert_file", arguments["tls_cert_line"])
        self.assertIn("local.tls_key_file", arguments["tls_key_line"])
        local_values = module_locals(RELAY)
        self.assertTrue(unquote(local_values["tls_cert_file"]).startswith("/run/edgecall/"))
        self.assertTrue(unquote(local_values["tls_key_file"]).startswith("/run/edgecall/"))

    def test_renders_a_systemd_unit_for_the_relay_with_restart(self):
        text = self.render()
        self.assertTrue(text.startswith("#cloud-config\n"))
        unit = self.written_file("/etc/systemd/system/edgecall-relay.service")["content"]
        for line in (
            "[Service]",
            "User=edgecall",
            "ExecStart=/usr/local/bin/edgecall-relay --config /etc/edgecall/relay.toml",
            "Restart=always",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "WantedBy=multi-user.target",
        ):
            self.assertIn(line, unit.splitlines())
        self.assertIn("systemctl, enable, --now, edgecall-nats.service, edgecall-relay.service", text)

    def test_the_relay_unit_reads_its_secrets_as_root_before_every_start(self):
        unit = self.written_file("/etc/systemd/system/edgecall-relay.service")["content"].splitlines()
        self.assertIn("ExecStartPre=+/usr/local/sbin/edgecall-relay-env", unit)
        self.assertIn("RuntimeDirectory=edgecall", unit)
        self.assertIn("RuntimeDirectoryMode=0700", unit)
        self.assertIn("EnvironmentFile=-/run/edgecall/relay.env", unit)
        script = self.written_file("/usr/local/sbin/edgecall-relay-env")
        self.assertEqual(script["permissions"], "0700")
        self.assertIn("run=/run/edgecall\n", script["content"])
        self.assertIn('mv "$run/relay.env.new" "$run/relay.env"', script["content"])

    def test_renders_a_nats_cluster_config_listing_every_peer(self):
        text = self.render()
        self.assertIn("listen: 10.0.1.10:6222", text)
        routes = re.findall(r"nats-route://([\d.]+):6222", text)
        self.assertEqual(routes, ["10.0.1.11", "10.0.1.12"])
        self.assertIn("ExecStart=/usr/bin/nats-server --config /etc/edgecall/nats.conf", text)

    def relay_toml(self, **overrides):
        return tomllib.loads(self.written_file("/etc/edgecall/relay.toml", **overrides)["content"])

    def test_the_relay_config_publishes_to_the_registry_uses_local_nats_and_trunks_to_the_edge(self):
        config = self.relay_toml()
        self.assertEqual(config["publish-to"], "dynamodb://edgecall-relays")
        self.assertEqual(config["nats"], "nats://127.0.0.1:4222")
        self.assertEqual(config["listen"], "0.0.0.0:443")
        self.assertEqual(config["edge"], "https://meet.example.com")
        self.assertNotIn("open-trunk", config)
        self.assertIn("sha256sum -c -", self.render())

    def test_the_edge_url_comes_from_the_module_variable(self):
        self.assertEqual(templatefile_arguments()["edge_url"], "var.edge_url")
        relay_variables = module_blocks(RELAY, "variable")
        self.assertNotIn("default", relay_variables["edge_url"])
        self.assertNotIn("default", module_blocks(ROOT, "variable")["edge_url"])

    def test_a_token_secret_is_required(self):
        # No default anywhere: every deployment names the parameter, and
        # the start-up script refuses to start the relay without its value
        # (the relay itself refuses --edge without a token secret).
        for module, name in ((ROOT, "join_token_secret_parameter"), (RELAY, "token_secret_parameter"), (DIRECTORY, "token_secret_parameter")):
            with self.subTest(module=module.name):
                self.assertNotIn("default", module_blocks(module, "variable")[name])
        for text in (self.render(), self.render(**self.CERTIFICATE_MODE)):
            self.assertNotIn("open-trunk", text)
            self.assertNotIn("OPEN_TRUNK", text)

    def relay_args(self):
        """(TOML keys, environment variables) the relay's `Args` accepts."""
        source = RELAY_CONFIG_RS.read_text(encoding="utf-8")
        body = source[source.index("pub struct Args {") :]
        body = body[: body.index("\n}\n")]
        keys = {f.replace("_", "-") for f in re.findall(r"pub (\w+):", body)}
        envs = set(re.findall(r'env = "(\w+)"', body))
        return keys, envs

    def test_the_relay_toml_uses_only_keys_the_relay_accepts_in_both_tls_modes(self):
        keys, _ = self.relay_args()
        for overrides in ({}, self.CERTIFICATE_MODE):
            config = self.relay_toml(**overrides)
            with self.subTest(mode="certificate" if overrides else "self-signed"):
                self.assertEqual(set(config) - keys, set())
                self.assertEqual("cert" in config, bool(overrides))

    def test_relay_env_file_sets_only_variables_the_relay_reads(self):
        _, envs = self.relay_args()
        written = set(re.findall(r"(EDGECALL_\w+)=", self.render()))
        self.assertEqual(
            written,
            {
                "EDGECALL_RELAY_ID",
                "EDGECALL_RELAY_PUBLIC_URL",
                "EDGECALL_RELAY_CERT_HOSTS",
                "EDGECALL_TOKEN_SECRET",
                "EDGECALL_RELAY_TRUNK_SECRET",
            },
        )
        self.assertEqual(written - envs, set())

    def test_certificate_mode_writes_the_pem_paths(self):
        text = self.render(**self.CERTIFICATE_MODE)
        self.assertIn('      cert = "/run/edgecall/tls/fullchain.pem"\n      key = ', text)
        self.assertIn("host='relay-0.example.com'", text)
        self.assertIn("certificate_parameter='/edgecall/tls/fullchain.pem'", text)

    def test_the_rendered_file_is_yaml_with_the_expected_files(self):
        data = yaml.safe_load(self.render())
        paths = {f["path"] for f in data["write_files"]}
        self.assertEqual(
            paths,
            {
                "/etc/edgecall/nats.conf",
                "/etc/edgecall/relay.toml",
                "/etc/systemd/system/edgecall-nats.service",
                "/etc/systemd/system/edgecall-relay.service",
                "/usr/local/sbin/edgecall-install",
                "/usr/local/sbin/edgecall-relay-env",
            },
        )
        self.assertIn("nats-server", data["packages"])
        self.assertIn("awscli", data["packages"])


FAKE_AWS = """#!/bin/sh
# Stand-in for `aws ssm get-parameter … --name N --with-decryption …`:
# prints $FAKE_SSM/<N with / as _>, or fails like a missing parameter.
echo "$*" >> "$FAKE_SSM/calls"
while [ $# -gt 0 ]; do
  case "$1" in --name) name=$2; shift ;; esac
  shift
done
file="$FAKE_SSM/$(printf %s "$name" | tr / _)"
[ -f "$file" ] || { echo "An error occurred (ParameterNotFound)" >&2; exit 254; }
cat "$file"
"""

FAKE_CURL = """#!/bin/sh
# Stand-in for the instance metadata service (IMDSv2).
case "$*" in
  *api/token*) echo token ;;
  *meta-data/instance-id*) echo i-0123456789abcdef0 ;;
  *meta-data/public-ipv4*) echo 203.0.113.7 ;;
  *) exit 22 ;;
esac
"""

TOKEN_SECRET = "dG9rZW4tc2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODk="
TRUNK_SECRET = "dHJ1bmstc2VjcmV0LWZvci10ZXN0cy1vbmx5LTAxMjM0NTY3ODk="


class StartUpScript(unittest.TestCase):
    """edgecall-relay-env, rendered and run by /bin/sh with stand-ins for
    `aws` and `curl` and /run/edgecall moved into a temporary directory."""

    def setUp(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="edgecall-relay-env-"))
        self.run_dir = self.dir / "run"
        self.run_dir.mkdir()
        self.ssm = self.dir / "ssm"
        self.ssm.mkdir()
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        for name, text in (("aws", FAKE_AWS), ("curl", FAKE_CURL)):
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "FAKE_SSM": str(self.ssm)}
        self.put("/edgecall/join-token-secret", TOKEN_SECRET)
        self.put("/edgecall/trunk-secret", TRUNK_SECRET)

    def tearDown(self):
        subprocess.run(["rm", "-rf", str(self.dir)], check=True)

    def put(self, name, value):
        (self.ssm / name.replace("/", "_")).write_text(value + "\n")

    def run_script(self, **overrides):
        script = CloudInit().written_file("/usr/local/sbin/edgecall-relay-env", **overrides)["content"]
        owner = f"{os.getuid()}:{os.getgid()}"
        script = (
            script.replace("/run/edgecall", str(self.run_dir))
            .replace("-o edgecall -g edgecall", f"-o {os.getuid()} -g {os.getgid()}")
            .replace("edgecall:edgecall", owner)
        )
        path = self.dir / "edgecall-relay-env"
        path.write_text(script)
        return subprocess.run(["/bin/sh", str(path)], env=self.env, capture_output=True, text=True, timeout=30)

    def environment_file(self):
        path = self.run_dir / "relay.env"
        return path, dict(line.split("=", 1) for line in path.read_text().splitlines())

    def test_the_secrets_go_into_a_root_only_environment_file(self):
        result = self.run_script()
        self.assertEqual(result.returncode, 0, result.stderr)
        path, values = self.environment_file()
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
        self.assertEqual(values["EDGECALL_TOKEN_SECRET"], TOKEN_SECRET)
        self.assertEqual(values["EDGECALL_RELAY_TRUNK_SECRET"], TRUNK_SECRET)
        self.assertEqual(values["EDGECALL_RELAY_ID"], "i-0123456789abcdef0")
        self.assertEqual(values["EDGECALL_RELAY_PUBLIC_URL"], "https://203.0.113.7:443")
        self.assertNotIn(TOKEN_SECRET, result.stdout + result.stderr)

    def test_only_the_named_parameters_are_read_with_decryption(self):
        self.assertEqual(self.run_script().returncode, 0)
        calls = (self.ssm / "calls").read_text().splitlines()
        names = [re.search(r"--name (\S+)", call).group(1) for call in calls]
        self.assertEqual(names, ["/edgecall/join-token-secret", "/edgecall/trunk-secret"])
        for call in calls:
            self.assertIn("ssm get-parameter --region eu-west-1", call)
            self.assertIn("--with-decryption", call)

    def test_a_missing_secret_stops_the_start(self):
        (self.ssm / "_edgecall_trunk-secret").unlink()
        result = self.run_script()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("/edgecall/trunk-secret", result.stderr)
        self.assertFalse((self.run_dir / "relay.env").exists())

    def test_a_short_or_unsafe_secret_stops_the_start(self):
        for value in ("too-short", TOKEN_SECRET + '"; touch /tmp/x', TOKEN_SECRET + " spaced", ""):
            with self.subTest(value=value):
                self.put("/edgecall/join-token-secret", value)
                result = self.run_script()
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("/edgecall/join-token-secret", result.stderr)
                self.assertFalse((self.run_dir / "relay.env").exists())

    def test_certificate_mode_writes_the_pem_files_for_the_relay_user_only(self):
        chain = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
        key = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----"
        self.put("/edgecall/tls/fullchain.pem", chain)
        self.put("/edgecall/tls/privkey.pem", key)
        result = self.run_script(**CloudInit.CERTIFICATE_MODE)
        self.assertEqual(result.returncode, 0, result.stderr)
        tls = self.run_dir / "tls"
        self.assertEqual(stat.S_IMODE(tls.stat().st_mode), 0o700)
        for name, content in (("fullchain.pem", chain), ("privkey.pem", key)):
            with self.subTest(file=name):
                path = tls / name
                self.assertEqual(path.read_text(), content + "\n")
                self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o400)
        _, values = self.environment_file()
        self.assertEqual(values["EDGECALL_RELAY_PUBLIC_URL"], "https://relay-0.example.com:443")

    def test_certificate_mode_refuses_a_parameter_that_is_not_pem(self):
        self.put("/edgecall/tls/fullchain.pem", "not a certificate")
        self.put("/edgecall/tls/privkey.pem", "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----")
        result = self.run_script(**CloudInit.CERTIFICATE_MODE)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("does not hold PEM", result.stderr)
        self.assertFalse((self.run_dir / "tls" / "fullchain.pem").exists())


if __name__ == "__main__":
    unittest.main()
