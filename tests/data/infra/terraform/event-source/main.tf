# An Amazon MQ consumer: its BASIC_AUTH secret is read with the function's role.
resource "aws_secretsmanager_secret" "mq" {
  name = "prod/orders/mq-user"
}
resource "aws_lambda_function" "consumer" {
  function_name = "orders-consumer-prod"
  role          = "arn:aws:iam::123456789012:role/consumer"
  handler       = "app.handler"
  runtime       = "python3.12"
}
resource "aws_lambda_event_source_mapping" "mq" {
  function_name    = aws_lambda_function.consumer.arn
  event_source_arn = "arn:aws:mq:us-east-1:123456789012:broker:orders:b-1234"
  queues           = ["orders"]
  source_access_configuration {
    type = "BASIC_AUTH"
    uri  = aws_secretsmanager_secret.mq.arn
  }
  source_access_configuration {
    type = "VIRTUAL_HOST"
    uri  = "/"
  }
}
