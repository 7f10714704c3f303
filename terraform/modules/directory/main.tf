# The relay directory: one Lambda behind a function URL, reading the relay
# registry (DynamoDB Scan). It never mints tokens: callers present a join
# token for the room (or the operator's x-api-key) and get a relay back.

locals {
  function_name = "${var.name}-directory"
}

# Created here, before the function, so retention applies from the first
# invocation and the role can be scoped to this one group.
resource "aws_cloudwatch_log_group" "directory" {
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

# Least privilege: read the registry table, write this function's logs.
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
  function_name    = local.function_name
  role             = aws_iam_role.directory.arn
  filename         = var.package_zip
  source_code_hash = filebase64sha256(var.package_zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  memory_size      = 128
  timeout          = 5

  environment {
    variables = {
      EDGECALL_DIRECTORY_REGISTRY         = "dynamodb://${var.registry_table_name}"
      EDGECALL_DIRECTORY_STALE_AFTER_SECS = tostring(var.stale_after_seconds)
      EDGECALL_TOKEN_SECRET               = var.join_token_secret
      EDGECALL_DIRECTORY_API_KEY          = var.operator_api_key
      RUST_LOG                            = "info"
    }
  }

  depends_on = [aws_cloudwatch_log_group.directory, aws_iam_role_policy.directory]
}

resource "aws_lambda_function_url" "directory" {
  function_name      = aws_lambda_function.directory.function_name
  authorization_type = "NONE"

  cors {
    allow_origins = var.cors_allow_origins
    allow_methods = ["GET"]
    max_age       = 3600
  }
}
