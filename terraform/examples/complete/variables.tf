# The example's inputs, passed straight to the module (terraform/), which
# documents and validates each one in its variables.tf.

variable "region" {
  description = "AWS region for every resource, e.g. eu-west-1; the secret parameters live here too."
  type        = string
}

variable "name" {
  description = "Prefix for resource names."
  type        = string
  default     = "edgecall"
}

variable "subnet_id" {
  description = "Public subnet (with an internet gateway route) for the relay VMs."
  type        = string
}

variable "relay_count" {
  description = "Number of relay VMs."
  type        = number
  default     = 2
}

variable "relay_instance_type" {
  description = "EC2 instance type of the relays."
  type        = string
  default     = "c7g.large"
}

variable "relay_binary_url" {
  description = "https:// or s3:// location of the edgecall-relay binary (built with --features aws)."
  type        = string
}

variable "relay_binary_sha256" {
  description = "SHA-256 (hex) of the relay binary."
  type        = string
}

variable "edge_url" {
  description = "Base URL of the edge, https://<host>."
  type        = string
}

variable "join_token_secret_parameter" {
  description = "SSM SecureString parameter holding the join-token secret (the edge's JOIN_TOKEN_SECRET)."
  type        = string
  default     = "/edgecall/join-token-secret"
}

variable "trunk_secret_parameter" {
  description = "SSM SecureString parameter holding the edge's TRUNK_SECRET."
  type        = string
  default     = "/edgecall/trunk-secret"
}

variable "directory_api_key_parameter" {
  description = "SSM SecureString parameter holding the directory's operator key; empty: none."
  type        = string
  default     = ""
}

variable "secrets_kms_key_arn" {
  description = "Customer managed KMS key of the secret parameters; empty: alias/aws/ssm."
  type        = string
  default     = ""
}

variable "tls_mode" {
  description = "\"self-signed\" or \"certificate\"."
  type        = string
  default     = "self-signed"
}

variable "relay_hostnames" {
  description = "With tls_mode = \"certificate\": one DNS name per relay."
  type        = list(string)
  default     = []
}

variable "tls_certificate_parameter" {
  description = "With tls_mode = \"certificate\": SSM SecureString parameter holding the PEM certificate chain."
  type        = string
  default     = ""
}

variable "tls_private_key_parameter" {
  description = "With tls_mode = \"certificate\": SSM SecureString parameter holding the PEM private key."
  type        = string
  default     = ""
}

variable "directory_package_zip" {
  description = "Path of the directory Lambda zip (`cargo xtask build-lambda` writes dist/lambda/edgecall-directory-arm64.zip)."
  type        = string
}

variable "directory_architecture" {
  description = "arm64 or x86_64, matching the directory binary."
  type        = string
  default     = "arm64"
}

variable "directory_secret_source" {
  description = "\"parameter-store\" (default) or \"environment\" (see the module's variable)."
  type        = string
  default     = "parameter-store"
}

variable "directory_reserved_concurrency" {
  description = "Concurrent executions reserved for the directory; -1: none."
  type        = number
  default     = 20
}

variable "log_retention_days" {
  description = "CloudWatch retention of the directory's logs, in days."
  type        = number
  default     = 14
}

variable "cors_allow_origins" {
  description = "Origins allowed to call the directory from a browser; empty: the edge's."
  type        = list(string)
  default     = []
}
