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

variable "join_token_secret" {
  description = "HS256 secret the directory checks callers' join tokens with; empty: it answers anyone (open deployments)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "operator_api_key" {
  description = "Key the operator's own backend presents as x-api-key instead of a join token; empty: no operator key."
  type        = string
  default     = ""
  sensitive   = true
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
