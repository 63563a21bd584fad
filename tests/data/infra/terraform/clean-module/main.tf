variable "environment" {
  type    = string
  default = "prod"
}

data "aws_secretsmanager_secret" "mailer" {
  name = "${var.environment}/mailer/smtp"
}

data "aws_iam_policy_document" "mailer" {
  statement {
    sid       = "ReadSmtp"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [data.aws_secretsmanager_secret.mailer.arn]
  }
}

resource "aws_iam_role" "mailer" {
  name = "mailer-${var.environment}"
  assume_role_policy = <<-EOT
    {
      "Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"Service": "lambda.amazonaws.com"}}]
    }
  EOT
  inline_policy {
    name   = "smtp"
    policy = data.aws_iam_policy_document.mailer.json
  }
}

resource "aws_lambda_function" "mailer" {
  function_name = "mailer-${var.environment}"
  role          = aws_iam_role.mailer.arn
  handler       = "mailer.handler"
  runtime       = "nodejs20.x"
  filename      = "mailer.zip"

  environment {
    variables = {
      SMTP_SECRET_ID = data.aws_secretsmanager_secret.mailer.name
      FROM_ADDRESS   = "noreply@example.com"
    }
  }
}
