# The relay directory: one Lambda behind a function URL, reading the relay
# registry (DynamoDB Scan). It never mints tokens: callers present a join
# token for the room (or the operator's x-api-key) and get a relay back.

locals {
  function_name = "${var.name}-directory"

  parameter_store = var.secret_source == "parameter-store"
  # The parameters the function reads at start (secret_source =
  # "parameter-store"); its role may read exactly these.
  secret_parameters = compact([var.token_secret_parameter, var.api_key_parameter])
  secret_parameter_arns = [
    for name in local.secret_parameters :
    "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${name}"
  ]

  # secret_source = "parameter-store": the parameter names; the function
  # reads them at start with its role.
  parameter_environment = {
    EDGECALL_TOKEN_SECRET_PARAMETER      = var.token_secret_parameter
    EDGECALL_DIRECTORY_API_KEY_PARAMETER = var.api_key_parameter
  }
  # secret_source = "environment": the values, read by Terraform (and so
  # in its state).
  value_environment = {
    EDGECALL_TOKEN_SECRET      = one(data.aws_ssm_parameter.token_secret[*].value)
    EDGECALL_DIRECTORY_API_KEY = one(data.aws_ssm_parameter.api_key[*].value)
  }
  chosen_environment = local.parameter_store ? local.parameter_environment : local.value_environment
  # Without an operator key its variable is left out.
  secret_environment = {
    for name, value in local.chosen_environment : name => value if value != null && value != ""
  }
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

# Read by Terraform only with secret_source = "environment".
data "aws_ssm_parameter" "token_secret" {
  count = local.parameter_store ? 0 : 1
  name  = var.token_secret_parameter
}

data "aws_ssm_parameter" "api_key" {
  count = !local.parameter_store && var.api_key_parameter != "" ? 1 : 0
  name  = var.api_key_parameter
}

# Created here, before the function, so retention applies from the first
# invocation and the role can be scoped to this one group.
resource "aws_cloudwatch_log_group" "directory" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (log_retention_days, default 14): the logs hold request metadata of an ephemeral lookup service, nothing that must be kept for a year.
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest; the directory logs no secret or token, so a customer managed key would add cost and a key policy, not protection.
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# Least privilege: read the registry table, write this function's logs and,
# with secret_source = "parameter-store", read (and decrypt) its own secrets.
data "aws_iam_policy_document" "directory" {
  statement {
    sid       = "ReadRelayRegistry"
    actions   = ["dynamodb:Scan"]
    resources = [var.registry_table_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.directory.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = local.parameter_store ? [local.secret_parameter_arns] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["ssm:GetParameter"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = local.parameter_store && var.kms_key_arn != "" ? [var.kms_key_arn] : []
    content {
      sid       = "DecryptOwnSecrets"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      # Only through SSM, and only for the parameters above.
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${data.aws_region.current.name}.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = local.secret_parameter_arns
      }
    }
  }
}

resource "aws_iam_role" "directory" {
  name               = local.function_name
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "directory" {
  name   = "read-registry-write-logs"
  role   = aws_iam_role.directory.id
  policy = data.aws_iam_policy_document.directory.json
}

resource "aws_lambda_function" "directory" {
  #checkov:skip=CKV_AWS_116:A dead-letter queue catches failed asynchronous invocations; the directory is only invoked synchronously (function URL), where the caller sees the error.
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB, SSM and CloudWatch Logs over their public AWS endpoints and no private resource; inside a VPC it would need a NAT gateway or VPC endpoints for nothing.
  #checkov:skip=CKV_AWS_272:The zip is built by the operator (cargo xtask build-lambda) and deployed from a local file; Lambda code signing needs an AWS Signer profile and signed uploads this deployment does not use.
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on "*" for a function whose work is one DynamoDB Scan; its logs and Lambda's own metrics cover it.
  function_name                  = local.function_name
  role                           = aws_iam_role.directory.arn
  filename                       = var.package_zip
  source_code_hash               = filebase64sha256(var.package_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  memory_size                    = 128
  timeout                        = 5
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = !local.parameter_store && var.kms_key_arn != "" ? var.kms_key_arn : null

  environment {
    variables = merge(
      {
        EDGECALL_DIRECTORY_REGISTRY         = "dynamodb://${var.registry_table_name}"
        EDGECALL_DIRECTORY_STALE_AFTER_SECS = tostring(var.stale_after_seconds)
        RUST_LOG                            = "info"
      },
      local.secret_environment,
    )
  }

  depends_on = [aws_cloudwatch_log_group.directory, aws_iam_role_policy.directory]
}

resource "aws_lambda_function_url" "directory" {
  #checkov:skip=CKV_AWS_258:Browsers call the directory directly, so the URL cannot require IAM auth; the function itself answers only a caller presenting a join token for the room (or the operator's x-api-key) and never mints one.
  function_name      = aws_lambda_function.directory.function_name
  authorization_type = "NONE"

  cors {
    allow_origins = var.cors_allow_origins
    allow_methods = ["GET"]
    max_age       = 3600
  }
}
