"""The domain: names, values, configuration, and the operations on stores.

Nothing here imports typer, rich, questionary or boto3; stores are reached through the
protocols in `envsecrets.core.store`.
"""
