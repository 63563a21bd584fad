# Policy documents assembled from others, as shared IAM modules do: a base document merged
# in with source_policy_documents, a broad statement narrowed by an override of the same sid,
# and documents the audit cannot follow (a variable's JSON, a dynamic block).

variable "extra_policy_json" {
  type        = string
  description = "More statements for the sync job, from the caller"
  default     = null
}

variable "extra_statements" {
  type    = list(object({ actions = list(string), resources = list(string) }))
  default = []
}

locals {
  lambda_trust = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

# -- invoices: a base document that grants everything, merged in ------------------------------
data "aws_iam_policy_document" "secrets_base" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:*"]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "invoices" {
  source_policy_documents = [data.aws_iam_policy_document.secrets_base.json]

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:aws:logs:*:*:*"]
  }
}

resource "aws_iam_role" "invoices" {
  name               = "invoices"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "invoices" {
  role   = aws_iam_role.invoices.id
  policy = data.aws_iam_policy_document.invoices.json
}

resource "aws_lambda_function" "invoices" {
  function_name = "invoices"
  role          = aws_iam_role.invoices.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "invoices.zip"
}

# -- reports: the base's broad statement replaced by an override of the same sid -------------
data "aws_iam_policy_document" "reports_narrow" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/reports/warehouse-??????"]
  }
}

data "aws_iam_policy_document" "reports" {
  source_json   = data.aws_iam_policy_document.secrets_base.json
  override_json = data.aws_iam_policy_document.reports_narrow.json
}

resource "aws_iam_role" "reports" {
  name               = "reports"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "reports" {
  role   = aws_iam_role.reports.id
  policy = data.aws_iam_policy_document.reports.json
}

resource "aws_lambda_function" "reports" {
  function_name = "reports"
  role          = aws_iam_role.reports.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "reports.zip"
}

# -- sync: statements the audit cannot see -----------------------------------------------------
data "aws_iam_policy_document" "sync" {
  source_policy_documents = compact([var.extra_policy_json])

  dynamic "statement" {
    for_each = var.extra_statements
    content {
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

data "aws_iam_policy_document" "sync_extra" {
  source_json = var.extra_policy_json
  override_policy_documents = [
    data.aws_iam_policy_document.sync.json,
    <<-EOT
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    EOT
  ]
}

resource "aws_iam_role" "sync" {
  name               = "sync"
  assume_role_policy = local.lambda_trust
}

resource "aws_iam_role_policy" "sync" {
  role   = aws_iam_role.sync.id
  policy = data.aws_iam_policy_document.sync_extra.json
}

resource "aws_lambda_function" "sync" {
  function_name = "sync"
  role          = aws_iam_role.sync.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "sync.zip"
}
