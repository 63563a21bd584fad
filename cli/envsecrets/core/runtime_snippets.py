"""The code a Lambda function needs to read its migrated secrets, in its own runtime.

Secrets are read per invocation through a cache with a time-to-live, never once at import: a
warm function that read a value at start-up keeps the old one after a rotation until it
happens to restart. With a TTL the rotated value reaches warm functions within it.

- Python, Node.js, Java and .NET: the Powertools for AWS Lambda parameters utility
  (`get_secret(name, max_age=...)`, `getSecret(name, { maxAge })`,
  `SecretsProvider.withMaxAge(n, ChronoUnit.SECONDS).get(name)`,
  `ParametersManager.SecretsProvider.WithMaxAge(span).GetAsync(name)`).
- Go, Ruby, custom runtimes and container images: the AWS Parameters and Secrets Lambda
  Extension (a layer), over its local endpoint `GET http://localhost:2773/secretsmanager/get
  ?secretId=NAME` (port `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`), authenticated with the header
  `X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN`; it caches for `SECRETS_MANAGER_TTL`
  seconds (default and maximum 300).

Both read with the function's own role: `secretsmanager:GetSecretValue` on the secrets (and
`kms:Decrypt` for a customer-managed key), exactly what `secrets policy` grants. The extension
needs no permission of its own.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_AGE_SECONDS = 300  # the extension's TTL default and maximum; Powertools takes any value

EXTENSION_PERMISSIONS = (
    "the AWS Parameters and Secrets Lambda Extension and Powertools' parameters utility read "
    "with the function's own role: this policy (secretsmanager:GetSecretValue, plus "
    "kms:Decrypt for a customer-managed key) is all they need"
)

EXTENSION_SETUP = (
    "add the AWS Parameters and Secrets Lambda Extension layer to the function (its ARN for "
    "your region and architecture is in the Secrets Manager user guide); SECRETS_MANAGER_TTL "
    "sets its cache time (default and maximum 300 seconds)"
)


@dataclass(frozen=True)
class RuntimeSnippet:
    """Code for one runtime, what it reads through, and what the function must add."""

    runtime: str | None
    language: str
    reader: str
    setup: str
    code: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "runtime": self.runtime,
            "language": self.language,
            "reader": self.reader,
            "setup": self.setup,
        }


def snippet_for(
    runtime: str | None, secrets: Mapping[str, str], *, max_age: int = MAX_AGE_SECONDS
) -> RuntimeSnippet:
    """The snippet for a Lambda `runtime` (GetFunctionConfiguration's `Runtime`, e.g.
    `python3.12`; None for a container image) reading `secrets` (secret name -> the
    environment variable it replaces)."""
    family = _family(runtime)
    pairs = sorted(secrets.items(), key=lambda item: item[1])
    builder = _BUILDERS[family]
    return builder(runtime, pairs, max_age)


def _family(runtime: str | None) -> str:
    text = (runtime or "").lower()
    for prefix, family in (
        ("python", "python"),
        ("nodejs", "node"),
        ("java", "java"),
        ("dotnet", "dotnet"),
        ("go", "go"),
        ("provided", "go"),  # custom runtimes: mostly Go (and Rust) since go1.x was retired
        ("ruby", "ruby"),
    ):
        if text.startswith(prefix):
            return family
    return "http"


# -- identifiers -------------------------------------------------------------------------------
def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


C_LIKE_KEYWORDS = _word_set(
    "abstract as async await base bool boolean break byte case catch char checked class "
    "const continue decimal default defer delegate do double else enum event explicit "
    "export extends extern false final finally fixed float for foreach func go goto if "
    "implicit import in instanceof int interface internal is let lock long map namespace "
    "new null object operator out override package params private protected public range "
    "readonly ref return sbyte sealed select short sizeof static string struct super "
    "switch synchronized this throw throws true try type typeof uint ulong unchecked "
    "unsafe ushort using var virtual void volatile while with yield"
)
RUBY_KEYWORDS = _word_set(
    "alias and begin break case class def defined do else elsif end ensure false for if in "
    "module next nil not or redo rescue retry return self super then true undef unless "
    "until when while yield"
)


def _words(key: str) -> list[str]:
    return [w for w in re.split(r"[^A-Za-z0-9]+", key) if w]


def _snake(key: str, reserved: frozenset[str]) -> str:
    name = "_".join(_words(key)).lower() or "value"
    if name[0].isdigit():
        name = f"_{name}"
    return f"{name}_" if name in reserved else name


def _camel(key: str) -> str:
    words = [w.lower() for w in _words(key)] or ["value"]
    name = words[0] + "".join(w.capitalize() for w in words[1:])
    if name[0].isdigit():
        name = f"_{name}"
    return f"{name}Value" if name in C_LIKE_KEYWORDS else name


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique: list[str] = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{seen[name]}")
    return unique


Pairs = list[tuple[str, str]]


# -- Powertools --------------------------------------------------------------------------------
def _python(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_snake(key, frozenset(keyword.kwlist)) for _, key in pairs])
    lines = [
        "# Powertools for AWS Lambda (Python): add aws-lambda-powertools or its layer.",
        "# Each value is cached MAX_AGE seconds: a rotated value reaches warm functions within it.",
        "from aws_lambda_powertools.utilities.parameters import get_secret",
        "",
        f"MAX_AGE = {max_age}  # seconds",
        "",
        "",
        "def handler(event, context):",
        *(
            f'    {var} = get_secret("{name}", max_age=MAX_AGE)  # was os.environ["{key}"]'
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
        "    ...",
    ]
    return RuntimeSnippet(
        runtime,
        "python",
        "Powertools for AWS Lambda (Python) parameters utility",
        "add aws-lambda-powertools to the function's dependencies, or the Powertools layer",
        "\n".join(lines),
    )


def _node(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_camel(key) for _, key in pairs])
    lines = [
        "// Powertools for AWS Lambda (TypeScript):",
        "//   npm install @aws-lambda-powertools/parameters @aws-sdk/client-secrets-manager",
        "// Each value is cached MAX_AGE seconds: a rotated value reaches warm functions",
        "// within it.",
        "import { getSecret } from '@aws-lambda-powertools/parameters/secrets';",
        "",
        f"const MAX_AGE = {max_age}; // seconds",
        "",
        "export const handler = async (event) => {",
        *(
            f"  const {var} = await getSecret('{name}', {{ maxAge: MAX_AGE }}); "
            f"// was process.env.{key}"
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
        "  // ...",
        "};",
    ]
    return RuntimeSnippet(
        runtime,
        "javascript",
        "Powertools for AWS Lambda (TypeScript) parameters utility",
        "npm install @aws-lambda-powertools/parameters @aws-sdk/client-secrets-manager",
        "\n".join(lines),
    )


def _java(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_camel(key) for _, key in pairs])
    lines = [
        "// Powertools for AWS Lambda (Java): software.amazon.lambda:powertools-parameters-secrets",
        "// Each value is cached MAX_AGE_SECONDS: a rotated value reaches warm functions",
        "// within it.",
        "import java.time.temporal.ChronoUnit;",
        "import software.amazon.lambda.powertools.parameters.secrets.SecretsProvider;",
        "",
        "public class Handler {",
        f"    private static final int MAX_AGE_SECONDS = {max_age};",
        "    private final SecretsProvider secrets = SecretsProvider.builder().build();",
        "",
        "    private String secret(String name) {",
        "        return secrets.withMaxAge(MAX_AGE_SECONDS, ChronoUnit.SECONDS).get(name);",
        "    }",
        "",
        "    // in handleRequest, on every invocation:",
        *(
            f'    //     String {var} = secret("{name}"); // was System.getenv("{key}")'
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
        "}",
    ]
    return RuntimeSnippet(
        runtime,
        "java",
        "Powertools for AWS Lambda (Java) parameters utility",
        "add the dependency software.amazon.lambda:powertools-parameters-secrets",
        "\n".join(lines),
    )


def _dotnet(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_camel(key) for _, key in pairs])
    lines = [
        "// Powertools for AWS Lambda (.NET): dotnet add package AWS.Lambda.Powertools.Parameters",
        "// Each value is cached MaxAge: a rotated value reaches warm functions within it.",
        "using AWS.Lambda.Powertools.Parameters;",
        "using AWS.Lambda.Powertools.Parameters.SecretsManager;",
        "",
        "public class Function",
        "{",
        f"    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds({max_age});",
        "    private static readonly ISecretsProvider Secrets = ParametersManager.SecretsProvider;",
        "",
        "    private static Task<string?> Secret(string name) =>",
        "        Secrets.WithMaxAge(MaxAge).GetAsync(name);",
        "",
        "    // in the handler, on every invocation:",
        *(
            f'    //     string? {var} = await Secret("{name}"); '
            f'// was Environment.GetEnvironmentVariable("{key}")'
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
        "}",
    ]
    return RuntimeSnippet(
        runtime,
        "csharp",
        "Powertools for AWS Lambda (.NET) parameters utility",
        "dotnet add package AWS.Lambda.Powertools.Parameters",
        "\n".join(lines),
    )


# -- the Parameters and Secrets Lambda Extension ------------------------------------------------
def _go(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_camel(key) for _, key in pairs])
    lines = [
        "// The AWS Parameters and Secrets Lambda Extension (a layer) caches each value",
        f"// SECRETS_MANAGER_TTL seconds (set it to {max_age}): a rotated value reaches warm",
        "// functions within it.",
        "import (",
        '\t"encoding/json"',
        '\t"fmt"',
        '\t"net/http"',
        '\t"net/url"',
        '\t"os"',
        ")",
        "",
        "func secret(name string) (string, error) {",
        '\tport := os.Getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")',
        '\tif port == "" {',
        '\t\tport = "2773"',
        "\t}",
        '\tendpoint := "http://localhost:" + port + "/secretsmanager/get?secretId=" + '
        "url.QueryEscape(name)",
        "\treq, err := http.NewRequest(http.MethodGet, endpoint, nil)",
        "\tif err != nil {",
        '\t\treturn "", err',
        "\t}",
        '\treq.Header.Set("X-Aws-Parameters-Secrets-Token", os.Getenv("AWS_SESSION_TOKEN"))',
        "\tresp, err := http.DefaultClient.Do(req)",
        "\tif err != nil {",
        '\t\treturn "", err',
        "\t}",
        "\tdefer resp.Body.Close()",
        "\tif resp.StatusCode != http.StatusOK {",
        '\t\treturn "", fmt.Errorf("secret %s: HTTP %d", name, resp.StatusCode)',
        "\t}",
        "\tvar body struct{ SecretString string }",
        "\tif err := json.NewDecoder(resp.Body).Decode(&body); err != nil {",
        '\t\treturn "", err',
        "\t}",
        "\treturn body.SecretString, nil",
        "}",
        "",
        "// in the handler, on every invocation:",
        *(
            f'//\t{var}, err := secret("{name}") // was os.Getenv("{key}")'
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
    ]
    return RuntimeSnippet(
        runtime,
        "go",
        "AWS Parameters and Secrets Lambda Extension",
        EXTENSION_SETUP,
        "\n".join(lines),
    )


def _ruby(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    names = _unique([_snake(key, RUBY_KEYWORDS) for _, key in pairs])
    lines = [
        "# The AWS Parameters and Secrets Lambda Extension (a layer) caches each value",
        f"# SECRETS_MANAGER_TTL seconds (set it to {max_age}): a rotated value reaches warm",
        "# functions within it.",
        'require "json"',
        'require "net/http"',
        'require "uri"',
        "",
        "def secret(name)",
        '  port = ENV.fetch("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")',
        "  query = URI.encode_www_form_component(name)",
        '  uri = URI("http://localhost:#{port}/secretsmanager/get?secretId=#{query}")',
        "  request = Net::HTTP::Get.new(uri)",
        '  request["X-Aws-Parameters-Secrets-Token"] = ENV.fetch("AWS_SESSION_TOKEN")',
        "  response = Net::HTTP.start(uri.host, uri.port) { |http| http.request(request) }",
        '  raise "secret #{name}: HTTP #{response.code}" unless response.is_a?(Net::HTTPSuccess)',
        '  JSON.parse(response.body).fetch("SecretString")',
        "end",
        "",
        "def handler(event:, context:)",
        *(
            f'  {var} = secret("{name}") # was ENV["{key}"]'
            for var, (name, key) in zip(names, pairs, strict=True)
        ),
        "  # ...",
        "end",
    ]
    return RuntimeSnippet(
        runtime,
        "ruby",
        "AWS Parameters and Secrets Lambda Extension",
        EXTENSION_SETUP,
        "\n".join(lines),
    )


def _http(runtime: str | None, pairs: Pairs, max_age: int) -> RuntimeSnippet:
    from urllib.parse import quote

    lines = [
        f"# Runtime {runtime or 'unknown (a container image?)'}: read each value per "
        "invocation from the AWS",
        "# Parameters and Secrets Lambda Extension (a layer, or copied into the image), which",
        f"# caches it SECRETS_MANAGER_TTL seconds (set it to {max_age}). The reply is JSON; its",
        "# SecretString is the value.",
        *(
            f'curl -s -H "X-Aws-Parameters-Secrets-Token: $AWS_SESSION_TOKEN" '
            f'"http://localhost:${{PARAMETERS_SECRETS_EXTENSION_HTTP_PORT:-2773}}'
            f'/secretsmanager/get?secretId={quote(name, safe="")}"  # was ${key}'
            for name, key in pairs
        ),
    ]
    return RuntimeSnippet(
        runtime,
        "shell",
        "AWS Parameters and Secrets Lambda Extension",
        EXTENSION_SETUP,
        "\n".join(lines),
    )


_BUILDERS: dict[str, Callable[[str | None, Pairs, int], RuntimeSnippet]] = {
    "python": _python,
    "node": _node,
    "java": _java,
    "dotnet": _dotnet,
    "go": _go,
    "ruby": _ruby,
    "http": _http,
}
