# Policies written as heredocs that interpolate other resources, a heredoc closing marker
# followed by blanks (Terraform accepts it), and a task whose containers come from a template.
resource "aws_s3_bucket" "invoices" {
  bucket = "acme-invoices-prod"
}

resource "aws_iam_role" "invoicer" {
  name               = "invoicer-prod"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "invoicer" {
  role   = aws_iam_role.invoicer.id
  policy = <<-POLICY
    {
      "Version": "2012-10-17",
      "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "${aws_s3_bucket.invoices.arn}/*"}
      ]
    }
  POLICY  
}

resource "aws_lambda_function" "invoicer" {
  function_name = "invoicer-prod"
  role          = aws_iam_role.invoicer.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/invoicer.zip"
}

resource "aws_iam_role" "mailer" {
  name               = "mailer-${var.stage}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "mailer" {
  role   = aws_iam_role.mailer.id
  policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "secretsmanager:GetSecretValue",
    "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:${var.stage}/mailer/smtp-*"
  }]
}
EOF
}

resource "aws_lambda_function" "mailer" {
  function_name = "mailer-${var.stage}"
  role          = aws_iam_role.mailer.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/mailer.zip"
}

variable "stage" {
  type    = string
  default = "prod"
}

variable "signing_key" {
  type      = string
  sensitive = true
}

resource "aws_ecs_task_definition" "renderer" {
  family             = "renderer"
  execution_role_arn = "arn:aws:iam::123456789012:role/renderer-execution"
  container_definitions = templatefile("${path.module}/renderer.json.tpl", {
    signing_key  = var.signing_key
    database_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/renderer/db-Qw3rTy"
  })
}
