output "function_url" {
  description = "The directory's public URL (ends with /)."
  value       = aws_lambda_function_url.directory.function_url
}

output "function_name" {
  description = "The Lambda function's name."
  value       = aws_lambda_function.directory.function_name
}
