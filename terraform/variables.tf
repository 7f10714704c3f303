variable "name" {
  description = "Prefix for resource names (table, Lambda, roles, instances)."
  type        = string
  default     = "edgecall"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "subnet_id" {
  description = "Public subnet (with an internet gateway route) the relay VMs are placed in."
  type        = string

  validation {
    condition     = startswith(var.subnet_id, "subnet-")
    error_message = "subnet_id must be a subnet id (subnet-...)."
  }
}

variable "relay_count" {
  description = "Number of relay VMs; each runs edgecall-relay and a nats-server routed to all the others."
  type        = number
  default     = 2

  validation {
    condition     = var.relay_count >= 1 && var.relay_count <= 16 && floor(var.relay_count) == var.relay_count
    error_message = "relay_count must be a whole number from 1 to 16."
  }
}

variable "relay_instance_type" {
  description = "EC2 instance type of the relays (network bandwidth matters more than CPU)."
  type        = string
  default     = "c7g.large"
}

variable "relay_binary_url" {
  description = "Where VMs download the edgecall-relay binary (built with --features aws for the instance's architecture): an https:// release URL or an s3://bucket/key object."
  type        = string

  validation {
    condition     = can(regex("^(https://|s3://)", var.relay_binary_url))
    error_message = "relay_binary_url must start with https:// or s3://."
  }
}

variable "relay_binary_sha256" {
  description = "SHA-256 (hex) of the relay binary; cloud-init refuses a download that does not match."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.relay_binary_sha256))
    error_message = "relay_binary_sha256 must be 64 lower-case hex digits."
  }
}

variable "edge_url" {
  description = "Base URL of the edge (the Worker), https://<host>: every room with participants on a relay keeps one trunk to the edge's room, so a meeting id is one meeting on the edge and the relays. Also the directory's default CORS origin."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", var.edge_url))
    error_message = "edge_url must be https://<lower-case host>, without port, path or trailing slash (the relays reach it on TCP 443)."
  }
}

# The secrets are SSM Parameter Store SecureString parameters the operator
# creates before the first apply (terraform/README.md, "Secrets"); Terraform
# only names them. The relays read them at every start with their instance
# role; user data and relay configs carry the names, never the values.

variable "join_token_secret_parameter" {
  description = "SSM SecureString parameter (name, e.g. /edgecall/join-token-secret) holding the HS256 join-token secret: the edge's JOIN_TOKEN_SECRET, at least 32 base64 characters. Required: the relays always verify join tokens."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.join_token_secret_parameter))
    error_message = "join_token_secret_parameter must be a hierarchical SSM parameter name such as /edgecall/join-token-secret."
  }
}

variable "trunk_secret_parameter" {
  description = "SSM SecureString parameter (name, e.g. /edgecall/trunk-secret) holding the edge's TRUNK_SECRET, at least 32 base64 characters: the relays present it when they open trunks to the edge."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.trunk_secret_parameter))
    error_message = "trunk_secret_parameter must be a hierarchical SSM parameter name such as /edgecall/trunk-secret."
  }
}

variable "directory_api_key_parameter" {
  description = "SSM SecureString parameter (name) holding the directory's operator key (x-api-key), for backends that look up relays without a join token; empty: no operator key."
  type        = string
  default     = ""

  validation {
    condition     = var.directory_api_key_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.directory_api_key_parameter))
    error_message = "directory_api_key_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "secrets_kms_key_arn" {
  description = "ARN of the customer managed KMS key the secret parameters are encrypted with (the roles get kms:Decrypt on it, via SSM and for those parameters only); empty: the AWS managed key alias/aws/ssm."
  type        = string
  default     = ""

  validation {
    condition     = var.secrets_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.secrets_kms_key_arn))
    error_message = "secrets_kms_key_arn must be empty or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "directory_secret_source" {
  description = "How the directory Lambda gets the join-token secret and operator key: \"parameter-store\" (default: the function gets only the parameter names, EDGECALL_TOKEN_SECRET_PARAMETER / EDGECALL_DIRECTORY_API_KEY_PARAMETER, and reads them with its role at start; no secret value in the Terraform state) or \"environment\" (Terraform reads the parameters into the function's KMS-encrypted environment, and so into its state); see terraform/README.md."
  type        = string
  default     = "parameter-store"

  validation {
    condition     = contains(["environment", "parameter-store"], var.directory_secret_source)
    error_message = "directory_secret_source must be \"environment\" or \"parameter-store\"."
  }
}

variable "tls_mode" {
  description = "\"self-signed\": relays generate short-lived certificates and publish their SHA-256 to the directory (browsers pin it); \"certificate\": relays load a PEM chain and key for relay_hostnames from the SSM parameters tls_certificate_parameter / tls_private_key_parameter at every start."
  type        = string
  default     = "self-signed"

  validation {
    condition     = contains(["self-signed", "certificate"], var.tls_mode)
    error_message = "tls_mode must be \"self-signed\" or \"certificate\"."
  }
}

variable "relay_hostnames" {
  description = "With tls_mode = \"certificate\": one DNS name per relay (in order), pointing at its public IP, covered by the certificate."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for host in var.relay_hostnames : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", host))])
    error_message = "relay_hostnames must be lower-case DNS names."
  }
}

variable "tls_certificate_parameter" {
  description = "With tls_mode = \"certificate\": SSM SecureString parameter (name) holding the PEM certificate chain covering every relay_hostnames entry (Advanced tier if the chain exceeds 4 KB)."
  type        = string
  default     = ""

  validation {
    condition     = var.tls_certificate_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.tls_certificate_parameter))
    error_message = "tls_certificate_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "tls_private_key_parameter" {
  description = "With tls_mode = \"certificate\": SSM SecureString parameter (name) holding the PEM private key of that certificate."
  type        = string
  default     = ""

  validation {
    condition     = var.tls_private_key_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.tls_private_key_parameter))
    error_message = "tls_private_key_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "directory_package_zip" {
  description = "Path of the directory Lambda zip (`cargo xtask build-lambda` writes dist/lambda/edgecall-directory-arm64.zip: an arm64 `bootstrap`)."
  type        = string

  validation {
    condition     = endswith(var.directory_package_zip, ".zip")
    error_message = "directory_package_zip must be a .zip file."
  }
}

variable "directory_architecture" {
  description = "Lambda architecture the directory binary was built for: arm64 or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.directory_architecture)
    error_message = "directory_architecture must be arm64 or x86_64."
  }
}

variable "log_retention_days" {
  description = "CloudWatch retention of the directory's logs, in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365)."
  }
}

variable "cors_allow_origins" {
  description = "Origins allowed to call the directory from a browser (where the web client is served, e.g. https://meet.example.com); empty: the edge_url origin (the Worker serves the client)."
  type        = list(string)
  default     = []
}

variable "directory_reserved_concurrency" {
  description = "Concurrent executions reserved for (and the most allowed to) the directory Lambda, bounding what a request flood can cost; -1: no reservation (an account whose Lambda concurrency quota is still 10 cannot reserve any)."
  type        = number
  default     = 20

  validation {
    condition     = var.directory_reserved_concurrency == -1 || var.directory_reserved_concurrency >= 1
    error_message = "directory_reserved_concurrency must be -1 or at least 1."
  }
}
