"""Structural tests of the Terraform configuration, offline.

No terraform binary is available (see ../README.md), so these tests parse
every .tf file with python-hcl2 and check what a reviewer would: variables
are documented and typed, the relay security group opens exactly the ports
the README documents, no IAM statement grants a wildcard action, and the
cloud-init template renders (with a small implementation of the
templatefile() features it uses) into a systemd unit for the relay and a
NATS cluster config listing the peers.

Run: python -m unittest discover -s terraform/tests  (cargo xtask test does,
in a venv under ~/.cache/edgecall with the pinned python-hcl2).
"""

import pathlib
import re
import tomllib
import unittest

import hcl2
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELAY = ROOT / "modules" / "relay"
RELAY_CONFIG_RS = ROOT.parent / "native-relay" / "src" / "config.rs"
DIRECTORY = ROOT / "modules" / "directory"


def unquote(value):
    """python-hcl2 keeps string literals quoted ("\"udp\""); strip that."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(path):
    with open(path, encoding="utf-8") as f:
        return hcl2.load(f)


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


def iam_actions(policy_document):
    """Every action of a policy document, static and dynamic statements."""
    statements = list(policy_document.get("statement", []))
    for dynamic in policy_document.get("dynamic", []):
        for name, body in dynamic.items():
            if unquote(name) == "statement":
                statements.extend(body.get("content", []))
    return [unquote(a) for s in statements for a in s.get("actions", [])]


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
        self.assertGreaterEqual(len(files), 9)
        for path in files:
            with self.subTest(path=str(path.relative_to(ROOT))):
                load(path)

    def test_every_variable_has_a_description_and_a_type(self):
        for module in (ROOT, RELAY, DIRECTORY):
            for name, body in module_blocks(module, "variable").items():
                with self.subTest(module=module.name, variable=name):
                    self.assertTrue(unquote(body.get("description", "")).strip(), "no description")
                    self.assertIn("type", body, "no type")

    def test_every_output_has_a_description(self):
        for module in (ROOT, RELAY, DIRECTORY):
            for name, body in module_blocks(module, "output").items():
                with self.subTest(module=module.name, output=name):
                    self.assertTrue(unquote(body.get("description", "")).strip())

    def test_root_module_passes_only_variables_the_modules_declare(self):
        calls = {}
        for entry in load(ROOT / "main.tf").get("module", []):
            for name, body in entry.items():
                calls[unquote(name)] = body
        for name, module_dir in (("relay", RELAY), ("directory", DIRECTORY)):
            declared = module_blocks(module_dir, "variable")
            passed = {k for k in calls[name] if k not in ("source", "__is_block__")}
            with self.subTest(module=name):
                self.assertEqual(passed - set(declared), set(), "unknown module arguments")
                required = {v for v, body in declared.items() if "default" not in body}
                self.assertEqual(required - passed, set(), "required variables not passed")


class Examples(unittest.TestCase):
    def test_example_tfvars_set_only_declared_variables_and_every_required_one(self):
        declared = module_blocks(ROOT, "variable")
        required = {name for name, body in declared.items() if "default" not in body}
        examples = sorted((ROOT / "examples").glob("*.tfvars"))
        self.assertGreaterEqual(len(examples), 2)
        for path in examples:
            values = {k for k in load(path) if not k.startswith("__")}
            with self.subTest(example=path.name):
                self.assertEqual(set(values) - set(declared), set(), "undeclared variables")
                self.assertEqual(required - set(values), set(), "required variables missing")


class RelaySecurityGroup(unittest.TestCase):
    """The documented ports (terraform/README.md, "Network") and nothing else."""

    PUBLIC = {("udp", 443), ("tcp", 443)}
    INTERNAL = {("tcp", 6222)}

    def setUp(self):
        self.resources = module_blocks(RELAY, "resource")
        self.local_values = module_locals(RELAY)

    def ingress(self):
        for (kind, name), body in self.resources.items():
            if kind == "aws_vpc_security_group_ingress_rule":
                protocol = resolve(body["ip_protocol"], self.local_values)
                start = int(resolve(body["from_port"], self.local_values))
                end = int(resolve(body["to_port"], self.local_values))
                self.assertEqual(start, end, f"{name} opens a port range")
                yield name, (protocol, start), body

    def test_the_group_has_no_inline_rules(self):
        group = self.resources[("aws_security_group", "relay")]
        self.assertNotIn("ingress", group)
        self.assertNotIn("egress", group)

    def test_only_udp_and_tcp_443_are_open_to_the_internet(self):
        public = {port for _, port, body in self.ingress() if "cidr_ipv4" in body or "cidr_ipv6" in body}
        self.assertEqual(public, self.PUBLIC)

    def test_nats_routes_are_open_only_inside_the_group(self):
        internal = {}
        for name, port, body in self.ingress():
            if "referenced_security_group_id" in body:
                internal[port] = unquote(body["referenced_security_group_id"])
        self.assertEqual(set(internal), self.INTERNAL)
        for ref in internal.values():
            self.assertEqual(ref, "${aws_security_group.relay.id}")

    def test_every_rule_is_either_public_or_group_internal(self):
        ports = [port for _, port, _ in self.ingress()]
        self.assertEqual(sorted(ports), sorted(self.PUBLIC | self.INTERNAL))

    def test_the_readme_documents_the_same_ports(self):
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        for protocol, port in self.PUBLIC | self.INTERNAL:
            self.assertRegex(readme, rf"(?i){protocol}\W+{port}")


class LeastPrivilege(unittest.TestCase):
    def policy_documents(self, module_dir):
        return {
            name: body
            for (kind, name), body in module_blocks(module_dir, "data").items()
            if kind == "aws_iam_policy_document"
        }

    def test_no_iam_statement_grants_a_wildcard_action(self):
        for module_dir in (RELAY, DIRECTORY):
            for name, document in self.policy_documents(module_dir).items():
                for action in iam_actions(document):
                    with self.subTest(module=module_dir.name, policy=name, action=action):
                        self.assertNotIn("*", action)

    def test_the_directory_only_scans_the_registry_and_writes_its_logs(self):
        actions = iam_actions(self.policy_documents(DIRECTORY)["directory"])
        self.assertEqual(sorted(actions), ["dynamodb:Scan", "logs:CreateLogStream", "logs:PutLogEvents"])

    def test_the_relay_role_can_only_publish_read_its_secret_and_fetch_its_binary(self):
        actions = iam_actions(self.policy_documents(RELAY)["relay"])
        self.assertEqual(sorted(actions), ["dynamodb:PutItem", "s3:GetObject", "ssm:GetParameter"])

    def test_the_directory_logs_have_a_retention(self):
        resources = module_blocks(DIRECTORY, "resource")
        group = resources[("aws_cloudwatch_log_group", "directory")]
        self.assertEqual(unquote(group["retention_in_days"]), "${var.log_retention_days}")
        self.assertIn(("aws_lambda_function_url", "directory"), resources)


class CloudInit(unittest.TestCase):
    SAMPLE = {
        "relay_binary_url": "https://releases.example.com/edgecall-relay-aarch64",
        "relay_binary_sha256": "ab" * 32,
        "registry_table": "edgecall-relays",
        "token_secret_parameter": "/edgecall/join-token-secret",
        "region": "eu-west-1",
        "relay_port": 443,
        "nats_client_port": 4222,
        "nats_route_port": 6222,
        "cluster_name": "edgecall",
        "private_ip": "10.0.1.10",
        "nats_peers": ["10.0.1.11", "10.0.1.12"],
        "public_host": "",
        "tls_cert_line": "# self-signed certificate: rotated every 6 days,",
        "tls_key_line": "# its SHA-256 published to the directory",
    }

    def render(self, **overrides):
        template = (RELAY / "cloud-init.yaml.tftpl").read_text(encoding="utf-8")
        return render_template(template, {**self.SAMPLE, **overrides})

    def test_templatefile_gets_exactly_the_variables_the_template_uses(self):
        main = (RELAY / "main.tf").read_text(encoding="utf-8")
        call = main[main.index("templatefile(") :]
        call = call[: call.index("})")]
        passed = set(re.findall(r"^\s+(\w+)\s+=", call, re.M))
        self.assertEqual(passed, set(self.SAMPLE))

    def test_renders_a_systemd_unit_for_the_relay_with_restart(self):
        text = self.render()
        self.assertTrue(text.startswith("#cloud-config\n"))
        unit = text[text.index("path: /etc/systemd/system/edgecall-relay.service") :]
        for line in (
            "[Service]",
            "ExecStart=/usr/local/bin/edgecall-relay --config /etc/edgecall/relay.toml",
            "Restart=always",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "WantedBy=multi-user.target",
        ):
            self.assertIn(line, unit)
        self.assertIn("systemctl, enable, --now, edgecall-nats.service, edgecall-relay.service", text)

    def test_renders_a_nats_cluster_config_listing_every_peer(self):
        text = self.render()
        self.assertIn("listen: 10.0.1.10:6222", text)
        routes = re.findall(r"nats-route://([\d.]+):6222", text)
        self.assertEqual(routes, ["10.0.1.11", "10.0.1.12"])
        self.assertIn("ExecStart=/usr/bin/nats-server --config /etc/edgecall/nats.conf", text)

    def test_the_relay_config_publishes_to_the_registry_and_uses_local_nats(self):
        text = self.render()
        self.assertIn('publish-to = "dynamodb://edgecall-relays"', text)
        self.assertIn('nats = "nats://127.0.0.1:4222"', text)
        self.assertIn('listen = "0.0.0.0:443"', text)
        self.assertIn("sha256sum -c -", text)

    def relay_args(self):
        """(TOML keys, environment variables) the relay's `Args` accepts."""
        source = RELAY_CONFIG_RS.read_text(encoding="utf-8")
        body = source[source.index("pub struct Args {") :]
        body = body[: body.index("\n}\n")]
        keys = {f.replace("_", "-") for f in re.findall(r"pub (\w+):", body)}
        envs = set(re.findall(r'env = "(\w+)"', body))
        return keys, envs

    CERTIFICATE_MODE = {
        "public_host": "relay-0.example.com",
        "tls_cert_line": 'cert = "/etc/edgecall/tls/fullchain.pem"',
        "tls_key_line": 'key = "/etc/edgecall/tls/privkey.pem"',
    }

    def test_the_relay_toml_uses_only_keys_the_relay_accepts_in_both_tls_modes(self):
        keys, _ = self.relay_args()
        for overrides in ({}, self.CERTIFICATE_MODE):
            data = yaml.safe_load(self.render(**overrides))
            toml_text = next(f["content"] for f in data["write_files"] if f["path"] == "/etc/edgecall/relay.toml")
            config = tomllib.loads(toml_text)
            with self.subTest(mode="certificate" if overrides else "self-signed"):
                self.assertEqual(set(config) - keys, set())
                self.assertEqual("cert" in config, bool(overrides))

    def test_relay_env_file_sets_only_variables_the_relay_reads(self):
        _, envs = self.relay_args()
        written = set(re.findall(r"(EDGECALL_\w+)=", self.render()))
        self.assertTrue(written)
        self.assertEqual(written - envs, set())

    def test_certificate_mode_writes_the_pem_paths(self):
        text = self.render(**self.CERTIFICATE_MODE)
        self.assertIn('      cert = "/etc/edgecall/tls/fullchain.pem"\n      key = ', text)
        self.assertIn("host='relay-0.example.com'", text)

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
                "/usr/local/sbin/edgecall-bootstrap",
            },
        )
        self.assertIn("nats-server", data["packages"])


if __name__ == "__main__":
    unittest.main()
