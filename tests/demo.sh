#!/usr/bin/env bash
# `make demo`: a narrated tour of `secrets` against a local emulator. Needs no AWS account and
# no network; starts the emulator on a free loopback port and always stops it on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.venv/bin"
PORT="$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
WORK="$(mktemp -d)"
LOG="$WORK/emulator.log"

"$BIN/secrets" emulator --port "$PORT" >"$LOG" 2>&1 &
EMULATOR_PID=$!
cleanup() {
  kill "$EMULATOR_PID" 2>/dev/null || true
  wait "$EMULATOR_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  grep -q "listening" "$LOG" 2>/dev/null && break
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
# `secrets list` refreshes the completion names cache: keep it in the scratch folder too.
export XDG_CACHE_HOME="$WORK/cache"
export PATH="$BIN:$PATH"
cd "$WORK"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }
# as_typed: the arguments as a shell line that can be pasted back (`--verify-cmd 'sh -c "exit 1"'`
# keeps its quotes): plain words as they are, others in single quotes.
as_typed() {
  local word line=()
  for word in "$@"; do
    if [[ -n $word && $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      line+=("$word")
    else
      line+=("'${word//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${line[*]}"
}
# run: print a command, then run it (it must succeed)
run() { show "$(as_typed "$@")"; "$@"; }
# run_fails: print a command that is expected to fail, run it, and show its exit code
run_fails() {
  show "$(as_typed "$@")"
  set +e
  "$@"
  local code=$?
  set -e
  printf '(exit %s)\n' "$code"
}

say "The emulator is running on $AWS_ENDPOINT_URL (moto), with fake credentials"

tour_basics() {
  say "A secrets.toml declares environments; prod is protected"
  cat >secrets.toml <<'TOML'
[environments.dev]
region = "us-east-1"

[environments.staging]
region = "us-east-1"

[environments.prod]
region = "us-east-1"
protected = true

[functions.checkout]
secrets = ["api/stripe-key", "db/password"]
TOML
  cat secrets.toml

  say "Set a secret. At a terminal you get a hidden prompt (asked twice); here we pipe with --stdin"
  show "printf 'sk_test_51Hx' | secrets set dev/api/stripe-key --stdin --description 'Stripe test key'"
  printf 'sk_test_51Hx' | secrets set dev/api/stripe-key --stdin --description 'Stripe test key'
  show "printf 'hunter2' | secrets set dev/db/password --stdin"
  printf 'hunter2' | secrets set dev/db/password --stdin

  say "Setting the same value again creates no version"
  show "printf 'hunter2' | secrets set dev/db/password --stdin"
  printf 'hunter2' | secrets set dev/db/password --stdin

  say "Read it back: exact bytes on stdout"
  run secrets get dev/api/stripe-key
  echo

  say "A second set makes a new version; history shows the stages"
  show "printf 'sk_test_99Zz' | secrets set dev/api/stripe-key --stdin"
  printf 'sk_test_99Zz' | secrets set dev/api/stripe-key --stdin
  run secrets history dev/api/stripe-key
  run secrets get dev/api/stripe-key --version-stage AWSPREVIOUS
  echo

  say "List names and dates (never values)"
  run secrets list dev/
  run secrets show dev/api/stripe-key

  say "Protected environments need confirmation: without a terminal, --yes"
  show "printf 'sk_live_1' | secrets set prod/api/stripe-key --stdin"
  set +e; printf 'sk_live_1' | secrets set prod/api/stripe-key --stdin; echo "(exit $?)"; set -e
  show "printf 'sk_live_1' | secrets set prod/api/stripe-key --stdin --yes"
  printf 'sk_live_1' | secrets set prod/api/stripe-key --stdin --yes

  say "Typos are caught before anything is created"
  run_fails secrets get prdo/api/stripe-key
  run_fails secrets get dev/api/missing

  say "Delete is scheduled (30 days by default) and can be undone"
  run secrets delete dev/db/password
  run secrets list dev/ --include-deleted
  run secrets restore dev/db/password
}

tour_basics
tour_run() {
  say "Run your app locally: a small program that reads API_STRIPE_KEY, both ways"
  cat >app.py <<'PY'
import os
from pathlib import Path

if "API_STRIPE_KEY_FILE" in os.environ:
    key = Path(os.environ["API_STRIPE_KEY_FILE"]).read_text()
    how = "from the file in API_STRIPE_KEY_FILE"
else:
    key = os.environ["API_STRIPE_KEY"]
    how = "from the environment variable API_STRIPE_KEY"
print(f"app: got a {len(key)}-character key {how}")
print(f"app: a value in my environment? {'API_STRIPE_KEY' in os.environ}")
PY
  cat app.py

  say "Files (the default): a 0600 file per secret in a private folder, gone when the program exits"
  run secrets run dev -- python app.py
  run secrets run dev -- sh -c 'ls -l "$SECRETS_DIR"; env | grep -c sk_test || true'

  say "--env-vars: the values in its environment instead, with a warning (prod would confirm)"
  run secrets run dev --env-vars -- python app.py

  say "--mask: values in the program's output become ****; its exit code is ours"
  run_fails secrets run dev --mask -- sh -c 'echo "key is $(cat "$API_STRIPE_KEY_FILE")"; exit 3'

  say "export for tools that insist (dotenv reads back exactly with python-dotenv), inject for templates"
  run secrets export dev --format dotenv
  printf 'stripe:\n  key: "{{ secrets://dev/api/stripe-key }}"\n' >config.tmpl
  run secrets inject --input config.tmpl
  run_fails secrets inject <<<'db: {{ secrets://dev/db/missing }}'
}

tour_run
tour_rotate() {
  say "Rotation by hand: the new value is staged AWSPENDING, verified, then promoted"
  cat >check-login.sh <<'SH'
#!/bin/sh
# A stand-in for "log in with the new password": the value arrives on stdin, never in argv.
password="$(cat)"
[ "${#password}" -ge 24 ] && echo "login ok"
SH
  chmod +x check-login.sh
  cat check-login.sh
  run secrets rotate dev/db/password --generate --length 32 --verify-cmd ./check-login.sh

  say "history shows the stages: the new version is AWSCURRENT, the old one AWSPREVIOUS"
  run secrets history dev/db/password

  say "A verification that fails stops before promotion: AWSCURRENT is untouched"
  run_fails secrets rotate dev/db/password --generate --verify-cmd 'sh -c "exit 1"'
  run secrets show dev/db/password
  run_fails secrets rotate dev/db/password --generate
  run secrets rotate dev/db/password --cancel

  say "Rollback: AWSCURRENT goes back to the AWSPREVIOUS version"
  run secrets rotate dev/db/password --rollback
  run secrets history dev/db/password
  run secrets rotate dev/db/password --rollback    # a second one says it is already rolled back

  say "Bulk: every dev secret not changed for 0+ days, one confirmation (--yes), a summary"
  run secrets rotate --env dev --older-than 0 --generate --yes
}
tour_rotate
tour_diff() {
  say "Two environments side by side: make staging differ from dev in every way"
  show "printf 'sk_test_99Zz' | secrets set staging/api/stripe-key --stdin    # same as dev"
  printf 'sk_test_99Zz' | secrets set staging/api/stripe-key --stdin
  show "printf 'maps_1' | secrets set dev/api/maps-key --stdin                # only in dev"
  printf 'maps_1' | secrets set dev/api/maps-key --stdin
  show "printf '{\"user\":\"shop\",\"password\":\"dev-pw\"}' | secrets set dev/db/creds --stdin"
  printf '{"user":"shop","password":"dev-pw"}' | secrets set dev/db/creds --stdin
  show "printf '{\"user\":\"shop\",\"password\":\"stg-pw\"}' | secrets set staging/db/creds --stdin"
  printf '{"user":"shop","password":"stg-pw"}' | secrets set staging/db/creds --stdin
  show "printf 'whsec_1' | secrets set staging/api/webhook-key --stdin        # only in staging"
  printf 'whsec_1' | secrets set staging/api/webhook-key --stdin
  show "printf 'tok' | secrets set dev/legacy/token --stdin   (and in staging, then deleted there)"
  printf 'tok' | secrets set dev/legacy/token --stdin
  printf 'tok' | secrets set staging/legacy/token --stdin
  secrets delete staging/legacy/token --recovery-days 7

  say "diff: values compared by SHA-256 locally, never shown; exit 1 because they differ"
  say "(- only in A, + only in B, ~ differs, = same, ! pending deletion; a table on a terminal)"
  run_fails secrets diff dev staging
  run_fails secrets diff dev staging --prefix db/ --json

  say "copy --missing-only: create what staging lacks under api/, leave the rest alone"
  run secrets copy dev/api/ staging/api/ --missing-only
  run_fails secrets diff dev staging --prefix api/

  say "A conflict without --overwrite is refused (exit 4) and nothing is written"
  run_fails secrets copy dev/db/creds staging/db/creds
  say "prod is protected: copying into it needs confirmation (--yes without a terminal)"
  run_fails secrets copy dev/db/creds prod/db/creds
  run secrets copy dev/db/creds prod/db/creds --yes

  say "check: does each environment hold every secret secrets.toml declares for checkout?"
  run secrets check dev
  run_fails secrets check staging

  say "Replicas: add one in another region, then remove it (diff --metadata and check report drift)"
  run secrets replicate dev/api/stripe-key --region us-west-2
  run secrets replicate dev/api/stripe-key --region us-west-2 --remove
}
tour_diff
tour_migrate() {
  say "Migrate off Parameter Store: a few parameters under /shop/dev (put there with boto3)"
  show "python -c '... ssm.put_parameter(...) x4 ...'"
  "$BIN/python" - <<'PY'
import boto3

ssm = boto3.client("ssm")
ssm.put_parameter(Name="/shop/dev/db/password", Value="pg-demo-pass", Type="SecureString",
                  Description="Postgres password for the shop")
ssm.put_parameter(Name="/shop/dev/api/stripe-key", Value="sk_test_demo", Type="SecureString")
ssm.put_parameter(Name="/shop/dev/api/allowed-hosts", Value="a.example,b.example",
                  Type="StringList")
ssm.put_parameter(Name="/shop/dev/log-level", Value="info", Type="String")
PY
  say "The plan first: --dry-run writes nothing"
  run secrets migrate ssm /shop/dev --to dev/shop --recursive --dry-run

  say "For real: written, tagged migrated-from, descriptions kept, read back and verified"
  run secrets migrate ssm /shop/dev --to dev/shop --recursive
  run secrets show dev/shop/db/password

  say "Run it again (after a crash, Ctrl-C, anything): all unchanged, zero writes"
  run secrets migrate ssm /shop/dev --to dev/shop --recursive

  say "A .env file, parsed by python-dotenv: STRIPE_SECRET_KEY becomes dev/web/stripe-secret-key"
  cat >web.env <<'ENV'
# the web app's settings
export STRIPE_SECRET_KEY=sk_test_web_demo
DB_PASSWORD="pa ss # not a comment"
COOKIE_SIGNING_KEY='s3cr3t-${NOT_EXPANDED}'
ENV
  cat web.env
  run secrets migrate env-file web.env --to dev/web/
  run secrets list dev/web/
}
tour_migrate
tour_policy() {
  say "Least privilege: the IAM policy checkout needs in prod (account from STS: no account_id set)"
  run secrets policy checkout --env prod
  say "The same policy as a SAM Policies: block, ready to paste into the function"
  run secrets policy checkout --env prod --format sam

  say "Audit a template: a password in a variable, and a staging function that can read all of prod"
  cat >"$WORK/template.yaml" <<'YAML'
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Checkout:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Environment:
        Variables:
          STAGE: staging
          DB_PASSWORD: Tr0ub4dor-and-3-horses
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: secretsmanager:*
              Resource: !Sub "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:prod/*"
YAML
  run_fails secrets audit "$WORK/template.yaml"
  say "Findings as SARIF for GitHub code scanning (values never appear in reports)"
  show "secrets audit $WORK/template.yaml --format sarif > $WORK/audit.sarif"
  set +e; secrets audit "$WORK/template.yaml" --format sarif >"$WORK/audit.sarif"; echo "(exit $?)"; set -e
  run head -c 300 "$WORK/audit.sarif"
  echo
}
tour_policy
tour_setup() {
  say "secrets init writes a commented secrets.toml; here with flags, in a scratch folder"
  mkdir -p "$WORK/fresh"
  (
    cd "$WORK/fresh"
    run secrets init --env dev --env prod --region us-east-1 --function checkout=api/stripe-key
    cat secrets.toml
    say "It will not replace an existing file without confirmation"
    run_fails secrets init --env dev
  )

  say "secrets doctor: who am I, region, KMS key, list/read/write (probed, nothing written)"
  run_fails secrets doctor
  say "doctor exits 1 above: checkout declares secrets that prod and staging lack. Add them"
  show "printf 'pw' | secrets set prod/db/password --stdin --yes"
  printf 'pw' | secrets set prod/db/password --stdin --yes
  show "printf 'pw' | secrets set staging/db/password --stdin"
  printf 'pw' | secrets set staging/db/password --stdin
  show "printf 'sk' | secrets set staging/api/stripe-key --stdin"
  printf 'sk' | secrets set staging/api/stripe-key --stdin
  run_fails secrets doctor --env prod --env staging  # shows its exit code (0 when all is well)

  say "Shell completion: TAB after 'secrets get dev/' (names from the cache 'secrets list' filled)"
  run secrets list >/dev/null
  show "<TAB> secrets get dev/"
  _SECRETS_COMPLETE=complete_bash COMP_WORDS="secrets get dev/" COMP_CWORD=2 secrets
  say "Install it with: secrets --install-completion (or the scripts in completions/)"
}
tour_setup
tour_targets() {
  say "Rotation that changes the real credential: an RDS database's master password"
  show "python: rds.create_db_instance(orders-dev, postgres), set dev/db/master to its password"
  "$BIN/python" - <<'PY'
import boto3
boto3.client("rds").create_db_instance(
    DBInstanceIdentifier="orders-dev", DBInstanceClass="db.t3.micro", Engine="postgres",
    MasterUsername="admin", MasterUserPassword="first-password-1", AllocatedStorage=20)
PY
  show "printf '{\"username\": \"admin\", \"password\": \"first-password-1\", ...}' | secrets set dev/db/master --stdin"
  printf '{"username": "admin", "password": "first-password-1", "engine": "postgres", "port": 5432}' |
    secrets set dev/db/master --stdin
  say "Stage a password RDS accepts, ModifyDBInstance, wait until applied, promote; --save-plan remembers it"
  run secrets rotate dev/db/master --target rds:orders-dev --save-plan
  run tail -n 3 secrets.toml
  say "Now the plan is all it takes; show and check report it, history marks what rotations made"
  run secrets rotate dev/db/master
  run secrets show dev/db/master
  run secrets check dev
  run secrets history dev/db/master

  say "An IAM user's access key: a new key, proved with STS signed by it, the old key deactivated"
  show "python: iam.create_user(deployer-dev), its first key into dev/ci/deploy-key"
  "$BIN/python" - <<'PY' | secrets set dev/ci/deploy-key --stdin >/dev/null
import json
import boto3
iam = boto3.client("iam")
iam.create_user(UserName="deployer-dev")
key = iam.create_access_key(UserName="deployer-dev")["AccessKey"]
print(json.dumps({k: key[k] for k in ("AccessKeyId", "SecretAccessKey")}))
PY
  run secrets rotate dev/ci/deploy-key --target iam-user:deployer-dev --save-plan
  show "python: iam.list_access_keys(deployer-dev)"
  "$BIN/python" -c 'import boto3; [print(k["AccessKeyId"], k["Status"]) for k in boto3.client("iam").list_access_keys(UserName="deployer-dev")["AccessKeyMetadata"]]'
  say "Rollback reactivates the previous key, checks it with STS, and moves AWSCURRENT back"
  run secrets rotate dev/ci/deploy-key --rollback
  "$BIN/python" -c 'import boto3; [print(k["AccessKeyId"], k["Status"]) for k in boto3.client("iam").list_access_keys(UserName="deployer-dev")["AccessKeyMetadata"]]'
  say "Bulk rotation rotates each secret as its plan says; those without one need --generate"
  run secrets rotate --env dev --older-than 0 --prefix db/ --yes
}
tour_targets

say "Done. The emulator stops now; nothing is left running."
