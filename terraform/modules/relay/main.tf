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
  binary_object_arn = local.binary_from_s3 ? "arn:aws:s3:::${trimprefix(var.relay_binary_url, "s3://")}" : ""
}

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

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.relay.id
  description       = "Package mirrors, the binary download, DynamoDB/SSM APIs, NATS routes"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
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
# the token secret, fetch its binary when it lives in S3.
data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "PublishEndpoint"
    actions   = ["dynamodb:PutItem"]
    resources = [var.registry_table_arn]
  }

  dynamic "statement" {
    for_each = var.token_secret_arn == "" ? [] : [var.token_secret_arn]
    content {
      sid       = "ReadJoinTokenSecret"
      actions   = ["ssm:GetParameter"]
      resources = [statement.value]
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
  name   = "publish-endpoint"
  role   = aws_iam_role.relay.id
  policy = data.aws_iam_policy_document.relay.json
}

resource "aws_iam_instance_profile" "relay" {
  name = "${var.name}-relay"
  role = aws_iam_role.relay.name
}

# ---------------------------------------------------------- instances --

resource "aws_instance" "relay" {
  count = var.relay_count

  ami                         = data.aws_ami.debian.id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  private_ip                  = local.private_ips[count.index]
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.relay.id]
  iam_instance_profile        = aws_iam_instance_profile.relay.name
  user_data_replace_on_change = true

  metadata_options {
    http_tokens   = "required" # IMDSv2 only
    http_endpoint = "enabled"
  }

  user_data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
    relay_binary_url       = var.relay_binary_url
    relay_binary_sha256    = var.relay_binary_sha256
    registry_table         = var.registry_table_name
    token_secret_parameter = var.token_secret_parameter
    region                 = data.aws_subnet.this.region
    relay_port             = local.relay_port
    nats_client_port       = local.nats_client_port
    nats_route_port        = local.nats_route_port
    cluster_name           = var.name
    private_ip             = local.private_ips[count.index]
    nats_peers             = [for ip in local.private_ips : ip if ip != local.private_ips[count.index]]
    # Empty in self-signed mode: the VM uses its public IP at boot.
    public_host   = var.tls_mode == "certificate" ? var.relay_hostnames[count.index] : ""
    tls_cert_line = var.tls_mode == "certificate" ? "cert = \"${var.tls_cert_path}\"" : "# self-signed certificate: rotated every 6 days,"
    tls_key_line  = var.tls_mode == "certificate" ? "key = \"${var.tls_key_path}\"" : "# its SHA-256 published to the directory"
  })

  tags = {
    Name = "${var.name}-relay-${count.index}"
  }

  lifecycle {
    precondition {
      condition     = var.tls_mode == "self-signed" || length(var.relay_hostnames) == var.relay_count
      error_message = "tls_mode = \"certificate\" needs one relay_hostnames entry per relay."
    }
  }
}
