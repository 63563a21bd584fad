locals {
  name         = "orders-api-${var.environment}"
  secret_prefix = "${var.environment}/orders"
}

resource "aws_secretsmanager_secret" "stripe" {
  name = "${local.secret_prefix}/stripe"
}

resource "aws_secretsmanager_secret_version" "stripe" {
  secret_id     = aws_secretsmanager_secret.stripe.id
  secret_string = "sk_live_51HxQ2eKp7RkA0b8mTqZ3vY9wE1nL4jC6"
}

data "aws_ssm_parameter" "slack_webhook_token" {
  name = "/orders/${var.environment}/slack-token"
}

resource "aws_db_instance" "orders" {
  identifier        = "orders-${var.environment}"
  engine            = "postgres"
  instance_class    = "db.t4g.micro"
  allocated_storage = 20
  username          = "orders"
  password          = var.db_password
}

resource "aws_iam_role" "api" {
  name = local.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "api_secrets" {
  name = "secrets"
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [aws_secretsmanager_secret.stripe.arn]
      },
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:*"]
        Resource = "*"
      }
    ]
  })
}

resource "aws_lambda_function" "api" {
  function_name = local.name
  role          = aws_iam_role.api.arn
  handler       = "app.handler"
  runtime       = "python3.12"
  filename      = "build/api.zip"

  environment {
    variables = {
      STAGE             = var.environment
      STRIPE_SECRET_ARN = aws_secretsmanager_secret.stripe.arn
      DB_PASSWORD       = var.db_password
      SENDGRID_API_KEY  = var.sendgrid_api_key
      SLACK_TOKEN       = data.aws_ssm_parameter.slack_webhook_token.value
      LOG_LEVEL         = "info"
    }
  }
}
