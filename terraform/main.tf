# edgecall on AWS: relay VMs running nats-server in a cluster, the registry
# table the relays publish themselves to, and the directory Lambda that
# tells clients which relay serves a room.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project = "edgecall"
      Stack   = var.name
    }
  }
}

# One item per relay (record JSON + TTL). Relays PutItem, the directory Scans.
resource "aws_dynamodb_table" "registry" {
  name         = "${var.name}-relays"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "relay_id"

  attribute {
    name = "relay_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}

# The HS256 join-token secret shared by the relays (read at boot) and the
# directory (minting). Absent: everything runs open (development only).
resource "aws_ssm_parameter" "token_secret" {
  count = var.join_token_secret == "" ? 0 : 1

  name  = "/${var.name}/join-token-secret"
  type  = "SecureString"
  value = var.join_token_secret
}

module "relay" {
  source = "./modules/relay"

  name                   = var.name
  subnet_id              = var.subnet_id
  relay_count            = var.relay_count
  instance_type          = var.relay_instance_type
  relay_binary_url       = var.relay_binary_url
  relay_binary_sha256    = var.relay_binary_sha256
  registry_table_name    = aws_dynamodb_table.registry.name
  registry_table_arn     = aws_dynamodb_table.registry.arn
  token_secret_parameter = var.join_token_secret == "" ? "" : aws_ssm_parameter.token_secret[0].name
  token_secret_arn       = var.join_token_secret == "" ? "" : aws_ssm_parameter.token_secret[0].arn
  tls_mode               = var.tls_mode
  relay_hostnames        = var.relay_hostnames
  tls_cert_path          = var.tls_cert_path
  tls_key_path           = var.tls_key_path
}

module "directory" {
  source = "./modules/directory"

  name                = var.name
  package_zip         = var.directory_package_zip
  architecture        = var.directory_architecture
  registry_table_name = aws_dynamodb_table.registry.name
  registry_table_arn  = aws_dynamodb_table.registry.arn
  join_token_secret   = var.join_token_secret
  operator_api_key    = var.directory_api_key
  log_retention_days  = var.log_retention_days
  cors_allow_origins  = var.cors_allow_origins
}
