variable "name" {
  description = "Prefix for resource names; the function is <name>-directory."
  type        = string
}

variable "package_zip" {
  description = "Path of the Lambda zip holding the `bootstrap` binary (edgecall-directory)."
  type        = string
}

variable "architecture" {
  description = "arm64 or x86_64, matching the binary."
  type        = string

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "registry_table_name" {
  description = "DynamoDB table the relays publish to."
  type        = string
}

variable "registry_table_arn" {
  description = "ARN of that table: the only one the function may read."
  type        = string
}

variable "token_secret_parameter" {
  description = "Name of the SSM SecureString parameter holding the HS256 join-token secret the directory checks callers' tokens with (the relays' and the edge's)."
  type        = string

  validation {
    condition     = can(regex("^/[A-Za-z0-9_.\\-/]+$", var.token_secret_parameter))
    error_message = "token_secret_parameter must be a hierarchical SSM parameter name such as /edgecall/join-token-secret."
  }
}

variable "api_key_parameter" {
  description = "Name of the SSM SecureString parameter holding the key the operator's own backend presents as x-api-key instead of a join token; empty: no operator key."
  type        = string
  default     = ""

  validation {
    condition     = var.api_key_parameter == "" || can(regex("^/[A-Za-z0-9_.\\-/]+$", var.api_key_parameter))
    error_message = "api_key_parameter must be empty or a hierarchical SSM parameter name."
  }
}

variable "kms_key_arn" {
  description = "Customer managed KMS key the parameters are encrypted with (and, with secret_source = \"environment\", the function's environment); empty: AWS managed keys."
  type        = string
  default     = ""
}

variable "secret_source" {
  description = "How the function gets its secrets. \"parameter-store\" (default): the function gets only the parameter names (EDGECALL_TOKEN_SECRET_PARAMETER / EDGECALL_DIRECTORY_API_KEY_PARAMETER), may read exactly those parameters with its role, and reads them at start (a parameter it cannot read stops the start); no secret value is in the Terraform state. \"environment\": Terraform reads the parameters and sets EDGECALL_TOKEN_SECRET / EDGECALL_DIRECTORY_API_KEY in the function's (KMS-encrypted) environment; the values are then in the Terraform state."
  type        = string
  default     = "parameter-store"

  validation {
    condition     = contains(["environment", "parameter-store"], var.secret_source)
    error_message = "secret_source must be \"environment\" or \"parameter-store\"."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and the most allowed to) the function, bounding what a flood of requests can cost; -1: no reservation (accounts whose concurrency quota is still 10 cannot reserve any)."
  type        = number
  default     = 20

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 or at least 1."
  }
}

variable "stale_after_seconds" {
  description = "Relays silent for longer than this are skipped (they republish every 30 s)."
  type        = number
  default     = 90

  validation {
    condition     = var.stale_after_seconds >= 35
    error_message = "stale_after_seconds must exceed the relays' 30 s heartbeat."
  }
}

variable "log_retention_days" {
  description = "CloudWatch log retention in days."
  type        = number
}

variable "cors_allow_origins" {
  description = "Origins allowed to call the function URL from browsers."
  type        = list(string)
}
