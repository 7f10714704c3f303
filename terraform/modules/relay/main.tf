# Relay VMs: a fixed number of instances with public IPs, each running
# edgecall-relay (UDP+TCP 443) and nats-server clustered with the others
# over the private network (routes on 6222, open only inside the group).

locals {
  # The only ports in the security group. terraform/README.md lists them;
  # terraform/tests/test_structure.py checks both stay in step.
  relay_port       = 443
  nats_route_port  = 6222
  nats_client_port = 4222

  private_ips = [
    for i in range(var.relay_count) : cidrhost(data.aws_subnet.this.cidr_block, var.private_ip_offset + i)
  ]
  binary_from_s3 = startswith(var.relay_binary_url, "s3://")
  # arn:aws:s3:::bucket/key for s3://bucket/key
  binary_object_arn = local.binary_from_s3 ? "arn:${data.aws_partition.current.partition}:s3:::${trimprefix(var.relay_binary_url, "s3://")}" : ""

  # The provider's region: the subnet, the registry and the parameters
  # are all in it (aws_subnet has no region attribute in provider 5.x).
  region = data.aws_region.current.name
  # Every secret a relay reads at start, by SSM parameter name: the join-token
  # secret and the trunk secret always (the relays verify tokens and trunk to
  # the edge), the certificate chain and key with tls_mode = "certificate".
  # The instance role may read exactly these parameters (and nothing else);
  # the user data carries only their names.
  secret_parameters = compact([
    var.token_secret_parameter,
    var.trunk_secret_parameter,
    var.tls_mode == "certificate" ? var.tls_certificate_parameter : "",
    var.tls_mode == "certificate" ? var.tls_private_key_parameter : "",
  ])
  secret_parameter_arns = [
    for name in local.secret_parameters :
    "arn:${data.aws_partition.current.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter${name}"
  ]
  # Where the relay reads its certificate in certificate mode: files the
  # start-up script writes from the parameters into the service's runtime
  # directory (tmpfs, removed when the relay stops), owned by the relay user.
  tls_cert_file = "/run/edgecall/tls/fullchain.pem"
  tls_key_file  = "/run/edgecall/tls/privkey.pem"
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_subnet" "this" {
  id = var.subnet_id
}

data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"] # Debian

  filter {
    name   = "name"
    values = ["debian-12-${data.aws_ec2_instance_type.this.supported_architectures[0] == "arm64" ? "arm64" : "amd64"}-*"]
  }
}

data "aws_ec2_instance_type" "this" {
  instance_type = var.instance_type
}

resource "aws_security_group" "relay" {
  name        = "${var.name}-relay"
  description = "edgecall relays: WebTransport (UDP 443) and WebSocket/TLS (TCP 443) public; NATS routes between relays only"
  vpc_id      = data.aws_subnet.this.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "webtransport" {
  security_group_id = aws_security_group.relay.id
  description       = "WebTransport / QUIC from anywhere"
  ip_protocol       = "udp"
  from_port         = local.relay_port
  to_port           = local.relay_port
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "websocket" {
  security_group_id = aws_security_group.relay.id
  description       = "WebSocket over TLS from anywhere"
  ip_protocol       = "tcp"
  from_port         = local.relay_port
  to_port           = local.relay_port
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "nats_routes" {
  security_group_id            = aws_security_group.relay.id
  description                  = "NATS cluster routes, relay to relay only"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_route_port
  to_port                      = local.nats_route_port
  referenced_security_group_id = aws_security_group.relay.id
}

# Egress: HTTPS (the AWS APIs — DynamoDB, SSM, S3 —, the binary download,
# the trunks to the edge), HTTP (Debian's package mirrors) and NATS routes
# to the other relays. DNS, NTP and instance metadata go to link-local
# addresses that security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.relay.id
  description       = "AWS APIs, the relay binary, trunks to the edge, package mirrors (HTTPS)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "http" {
  security_group_id = aws_security_group.relay.id
  description       = "Debian package mirrors (apt over HTTP)"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "nats_routes" {
  security_group_id            = aws_security_group.relay.id
  description                  = "NATS cluster routes, relay to relay only"
  ip_protocol                  = "tcp"
  from_port                    = local.nats_route_port
  to_port                      = local.nats_route_port
  referenced_security_group_id = aws_security_group.relay.id
}

# ---------------------------------------------------------------- IAM --

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# What a relay needs, and nothing else: write its own registry item, read
# its own secrets (and decrypt them, when they use a customer managed key),
# fetch its binary when it lives in S3.
data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "PublishEndpoint"
    actions   = ["dynamodb:PutItem"]
    resources = [var.registry_table_arn]
  }

  statement {
    sid       = "ReadOwnSecrets"
    actions   = ["ssm:GetParameter"]
    resources = local.secret_parameter_arns
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == "" ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptOwnSecrets"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      # Only through SSM, and only for the parameters above.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = local.secret_parameter_arns
      }
    }
  }

  dynamic "statement" {
    for_each = local.binary_from_s3 ? [local.binary_object_arn] : []
    content {
      sid       = "FetchRelayBinary"
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "relay" {
  name               = "${var.name}-relay"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy" "relay" {
  name   = "publish-endpoint-read-secrets"
  role   = aws_iam_role.relay.id
  policy = data.aws_iam_policy_document.relay.json
}

resource "aws_iam_instance_profile" "relay" {
  name = "${var.name}-relay"
  role = aws_iam_role.relay.name
}

# ---------------------------------------------------------- instances --

resource "aws_instance" "relay" {
  #checkov:skip=CKV_AWS_88:The relays are the public endpoints: browsers reach them directly over QUIC (UDP 443) and TLS (TCP 443) at their public IPs; only those ports are open (security group above).
  count = var.relay_count

  ami                         = data.aws_ami.debian.id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  private_ip                  = local.private_ips[count.index]
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.relay.id]
  iam_instance_profile        = aws_iam_instance_profile.relay.name
  ebs_optimized               = true
  monitoring                  = true # 1-minute metrics: network saturation shows before the relays' own /metrics are scraped
  user_data_replace_on_change = true

  metadata_options {
    http_tokens                 = "required" # IMDSv2 only
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    volume_type = "gp3"
  }

  # Names, never values: the secrets are read at every start of the relay
  # (edgecall-relay-env, as root) with the instance role.
  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    relay_binary_url          = var.relay_binary_url
    relay_binary_sha256       = var.relay_binary_sha256
    registry_table            = var.registry_table_name
    region                    = local.region
    relay_port                = local.relay_port
    nats_client_port          = local.nats_client_port
    nats_route_port           = local.nats_route_port
    cluster_name              = var.name
    private_ip                = local.private_ips[count.index]
    nats_peers                = [for ip in local.private_ips : ip if ip != local.private_ips[count.index]]
    edge_url                  = var.edge_url
    token_secret_parameter    = var.token_secret_parameter
    trunk_secret_parameter    = var.trunk_secret_parameter
    tls_certificate_parameter = var.tls_mode == "certificate" ? var.tls_certificate_parameter : ""
    tls_private_key_parameter = var.tls_mode == "certificate" ? var.tls_private_key_parameter : ""
    tls_cert_file             = local.tls_cert_file
    tls_key_file              = local.tls_key_file
    # Empty in self-signed mode: the VM uses its public IP at boot.
    public_host   = var.tls_mode == "certificate" ? var.relay_hostnames[count.index] : ""
    tls_cert_line = var.tls_mode == "certificate" ? "cert = \"${local.tls_cert_file}\"" : "# self-signed certificate: rotated every 6 days,"
    tls_key_line  = var.tls_mode == "certificate" ? "key = \"${local.tls_key_file}\"" : "# its SHA-256 published to the directory"
  })

  tags = {
    Name = "${var.name}-relay-${count.index}"
  }

  lifecycle {
    precondition {
      condition     = var.tls_mode == "self-signed" || length(var.relay_hostnames) == var.relay_count
      error_message = "tls_mode = \"certificate\" needs one relay_hostnames entry per relay."
    }
    precondition {
      condition     = var.tls_mode == "self-signed" || (var.tls_certificate_parameter != "" && var.tls_private_key_parameter != "")
      error_message = "tls_mode = \"certificate\" needs tls_certificate_parameter and tls_private_key_parameter (SSM SecureString parameters holding the PEM chain and key)."
    }
  }
}
